"""Everything a release has downloads from its page: the data files, manifest.json, the
datasheet, the release notes and the DatasetDict as one tar archive, streamed in chunks."""

import asyncio
import html
import io
import json
import re
import tarfile

import pytest
from django.test import AsyncRequestFactory, RequestFactory

from community.tests.factories import UserFactory
from feedback.models import Release
from feedback.releases import downloads
from feedback.releases.selectors import release_folder
from feedback.releases.services import release_build, release_publish
from feedback.tests.test_releases import pool_with_everything

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def releases_dir(tmp_path, settings):
    settings.RELEASES_DIR = tmp_path / "releases"


@pytest.fixture
def published():
    battle = pool_with_everything()
    release = Release.objects.create(community=battle.community, version=1)
    release_build(release_id=release.pk)
    return release_publish(actor=None, release_id=release.pk)


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def tarfile_written(members) -> bytes:
    """What the standard library's tarfile writes for the same members."""
    written = io.BytesIO()
    with tarfile.open(fileobj=written, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for info, path in members:
            if info.isfile():
                with path.open("rb") as file:
                    archive.addfile(info, file)
            else:
                archive.addfile(info)
    return written.getvalue()


def links(page: str) -> list[str]:
    return [html.unescape(href) for href in re.findall(r'href="(http://testserver/api/v1/releases/[^"]+)"', page)]


def test_every_file_of_a_release_downloads_from_its_page(client, published):
    page = client.get(f"/releases/{published.pk}/").content.decode()
    folder = release_folder(published)
    data_files = [entry["path"] for entry in published.manifest["files"]]
    names = [*data_files, "manifest.json", "DATASHEET.md", "RELEASE_NOTES.md", "dataset_dict.tar"]
    base = f"http://testserver/api/v1/releases/{published.pk}/files/"
    assert [link for link in links(page) if "/files/" in link] == [base + name for name in names]
    for name in names:
        response = client.get(f"/api/v1/releases/{published.pk}/files/{name}")
        assert response.status_code == 200, name
        assert response["Content-Disposition"] == f'attachment; filename="{published.name}-{name}"'
        content = body(response)
        assert int(response["Content-Length"]) == len(content)
        if name != "dataset_dict.tar":
            assert content == (folder / name).read_bytes(), name
    manifest = json.loads(body(client.get(f"/api/v1/releases/{published.pk}/files/manifest.json")))
    assert manifest["merkle_root"] == published.merkle_root
    assert client.get(f"/api/v1/releases/{published.pk}/files/manifest.json")["Content-Type"] == "application/json"
    datasheet = body(client.get(f"/api/v1/releases/{published.pk}/files/DATASHEET.md")).decode()
    assert datasheet == published.datasheet
    # Nothing else in the folder, and nothing outside it.
    for name in ("dataset_dict", "dataset_dict.json", "..%2Fmanifest.json", "state.json", ".building"):
        assert client.get(f"/api/v1/releases/{published.pk}/files/{name}").status_code == 404, name


def test_the_page_lists_each_download_with_its_size(client, published):
    page = client.get(f"/releases/{published.pk}/").content.decode()
    folder = release_folder(published)
    archive = len(body(client.get(f"/api/v1/releases/{published.pk}/files/dataset_dict.tar")))
    for name, size in [
        ("manifest.json", (folder / "manifest.json").stat().st_size),
        ("DATASHEET.md", (folder / "DATASHEET.md").stat().st_size),
        ("RELEASE_NOTES.md", (folder / "RELEASE_NOTES.md").stat().st_size),
        ("dataset_dict.tar", archive),
    ]:
        assert re.search(rf">{re.escape(name)}</a>\s*</td>\s*<td>[^<]+</td>\s*<td class=\"number\">{size}</td>", page)


def test_the_dataset_dict_archive_is_what_tarfile_writes_and_it_loads(client, published, tmp_path):
    import datasets

    response = client.get(f"/api/v1/releases/{published.pk}/files/dataset_dict.tar")
    assert response["Content-Type"] == "application/x-tar"
    content = body(response)

    folder = release_folder(published)
    assert content == tarfile_written(downloads.archive_members(folder))

    with tarfile.open(fileobj=io.BytesIO(content)) as archive:
        names = archive.getnames()
        assert names[0] == "dataset_dict" and "dataset_dict/dataset_dict.json" in names
        assert {member.uid for member in archive.getmembers()} == {0}
        archive.extractall(tmp_path / "out", filter="data")
    whole = datasets.load_from_disk(str(tmp_path / "out" / "dataset_dict"))
    assert {kind: whole[kind].num_rows for kind in whole} == published.manifest["counts"]["by_kind"]


def test_a_release_that_is_not_published_downloads_only_for_builders(client):
    battle = pool_with_everything()
    draft = release_build(release_id=Release.objects.create(community=battle.community, version=1).pk)
    for name in ("manifest.json", "dataset_dict.tar", "battles.jsonl"):
        assert client.get(f"/api/v1/releases/{draft.pk}/files/{name}").status_code == 404
    client.force_login(UserFactory(role="moderator"))
    for name in ("manifest.json", "dataset_dict.tar", "battles.jsonl"):
        assert client.get(f"/api/v1/releases/{draft.pk}/files/{name}").status_code == 200
    queued = Release.objects.create(community=battle.community, version=2)
    for name in ("manifest.json", "dataset_dict.tar"):
        assert client.get(f"/api/v1/releases/{queued.pk}/files/{name}").status_code == 404
    assert client.post(f"/api/v1/releases/{draft.pk}/files/dataset_dict.tar").status_code == 405


def test_the_proof_example_on_the_page_answers_with_the_first_record(client, published):
    page = client.get(f"/releases/{published.pk}/").content.decode()
    first = json.loads((release_folder(published) / "battles.jsonl").read_text().splitlines()[0])
    url = f"http://testserver/api/v1/releases/{published.pk}/proof/{first['id']}?file=battles"
    assert f'<a href="{html.escape(url)}">' in page
    proof = client.get(url.removeprefix("http://testserver"))
    assert proof.status_code == 200
    assert (proof.json()["record"], proof.json()["leaf_index"]) == (first, 0)


def test_under_asgi_a_download_is_read_chunk_by_chunk_in_threads(tmp_path):
    path = tmp_path / "big.jsonl"
    data = bytes(range(256)) * (5 * downloads.CHUNK_BYTES // 512)  # 2.5 chunks
    path.write_bytes(data)

    asgi = downloads.file_response(AsyncRequestFactory().get("/"), path, filename="big.jsonl")
    assert asgi.is_async  # Django lists a synchronous iterator to its end under ASGI

    async def chunks():
        return [chunk async for chunk in asgi.streaming_content]

    sizes = [len(chunk) for chunk in asyncio.run(chunks())]
    assert sizes == [downloads.CHUNK_BYTES, downloads.CHUNK_BYTES, downloads.CHUNK_BYTES // 2]
    assert asgi["Content-Length"] == str(len(data))

    wsgi = downloads.file_response(RequestFactory().get("/"), path, filename="big.jsonl")
    assert not wsgi.is_async and b"".join(wsgi.streaming_content) == data

    head = downloads.file_response(RequestFactory().head("/"), path, filename="big.jsonl")
    assert (head["Content-Length"], b"".join(head.streaming_content)) == (str(len(data)), b"")


def test_the_archive_of_a_folder_with_a_big_file_streams_and_matches_tarfile(tmp_path):
    (tmp_path / "dataset_dict" / "kind").mkdir(parents=True)
    (tmp_path / "dataset_dict" / "dataset_dict.json").write_text('{"splits": ["kind"]}')
    (tmp_path / "dataset_dict" / "kind" / "data.arrow").write_bytes(b"x" * (2 * downloads.CHUNK_BYTES + 7))
    (tmp_path / "dataset_dict" / "kind" / "empty").write_bytes(b"")
    members = downloads.archive_members(tmp_path)
    chunks = list(downloads.archive_chunks(members))
    assert max(len(chunk) for chunk in chunks) == downloads.CHUNK_BYTES
    content = b"".join(chunks)
    assert len(content) == downloads.archive_size(members) and len(content) % tarfile.RECORDSIZE == 0

    assert content == tarfile_written(members)
    with tarfile.open(fileobj=io.BytesIO(content)) as archive:
        assert archive.getnames() == [
            "dataset_dict",
            "dataset_dict/dataset_dict.json",
            "dataset_dict/kind",
            "dataset_dict/kind/data.arrow",
            "dataset_dict/kind/empty",
        ]
        assert archive.extractfile("dataset_dict/kind/data.arrow").read() == b"x" * (2 * downloads.CHUNK_BYTES + 7)
