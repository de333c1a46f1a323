"""The release page's "Load it" snippets, run as printed against the platform served for real:
a researcher copies them into Python in a folder of their own and gets the release's data."""

import html
import json
import os
import re
import subprocess
import sys
import urllib.request
import warnings

import pytest

from feedback.models import Release
from feedback.releases.services import release_build, release_publish
from feedback.tests.test_releases import pool_with_everything

pytestmark = pytest.mark.django_db(transaction=True)  # the server thread reads what the test wrote


def snippet(page: str, element_id: str) -> str:
    found = re.search(rf'<pre class="snippet" id="{element_id}"><code>(.*?)</code></pre>', page, re.DOTALL)
    assert found, element_id
    return html.unescape(found.group(1))


def run_python(code: str, folder) -> str:
    """Run `code` in a Python of this project's environment, in `folder`, without Django."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "HF_"))}
    env |= {"HF_HOME": str(folder / "hf-home"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], cwd=folder, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_printed_snippets_load_the_release_over_http(platform_url, tmp_path, settings):
    settings.RELEASES_DIR = tmp_path / "releases"
    battle = pool_with_everything()
    release = release_build(release_id=Release.objects.create(community=battle.community, version=1).pk)
    release = release_publish(actor=None, release_id=release.pk)
    with urllib.request.urlopen(f"{platform_url}/releases/{release.pk}/") as response:  # noqa: S310
        page = response.read().decode()
    counts = release.manifest["counts"]["by_kind"]

    (tmp_path / "one").mkdir()
    (tmp_path / "everything").mkdir()
    printed = snippet(page, "load-snippet")
    assert f'files = "{platform_url}/api/v1/releases/{release.pk}/files/"' in printed
    out = run_python(  # both snippets in one interpreter (importing datasets takes seconds), each in its folder
        "import os\nos.chdir('one')\n"
        + printed
        + "\nprint(battles.num_rows, preferences.num_rows, battles[0]['winner'])\nos.chdir('../everything')\n"
        + snippet(page, "load-all-snippet")
        + "\nimport json; print(json.dumps({kind: release[kind].num_rows for kind in release}))",
        tmp_path,
    )
    first, second = out.splitlines()
    assert first.split() == [str(counts["battles"]), str(counts["preferences"]), "model_a"]
    assert json.loads(second) == counts
    assert sorted(path.name for path in (tmp_path / "everything").iterdir()) == [
        release.name,
        f"{release.name}-dataset_dict.tar",
    ]

    # Served by ASGI, the downloads stream: Django never lists a synchronous iterator first.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for name in ("battles.jsonl", "manifest.json", "dataset_dict.tar"):
            with urllib.request.urlopen(f"{platform_url}/api/v1/releases/{release.pk}/files/{name}") as response:  # noqa: S310
                assert len(response.read()) == int(response.headers["Content-Length"])
    assert [str(w.message) for w in caught if "synchronous iterators" in str(w.message)] == []

    # The proof example points at a record of the release.
    proof_url = html.unescape(re.search(r'<p class="muted" id="proof-example">.*?<a href="([^"]+)"', page, re.S)[1])
    with urllib.request.urlopen(proof_url) as response:  # noqa: S310
        proof = json.load(response)
    assert (proof["file"], proof["leaf_index"], proof["root"]) == ("battles", 0, release.merkle_root)
