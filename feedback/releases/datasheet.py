"""A release's datasheet (the sections of "Datasheets for Datasets", Gebru et al. 2021) and its
release notes, generated from the manifest; admins edit the datasheet before publishing."""


def _table(counts: dict) -> str:
    if not counts:
        return "(none)\n"
    rows = "\n".join(
        f"| {name} | {count:,} |" for name, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    return f"| | records |\n|---|---:|\n{rows}\n"


def datasheet_generate(*, release, manifest: dict) -> str:
    community = release.community
    scope = f"the {community.name} community" if community else "every community of Feedback Commons"
    counts = manifest["counts"]
    filters = "\n".join(f"- {f}" for f in manifest["filters"])
    left_out = ", ".join(f"{count:,} {why}" for why, count in manifest["left_out"].items())
    return f"""# Datasheet: {manifest["name"]}

## Motivation
Feedback Commons collects human feedback on language-model answers in the open, so that anyone can
study it and train better models. This release is a snapshot of the accepted pool of {scope}.
It was created by the platform's release job on {manifest["created_at"][:10]}; the volunteers who
gave the feedback are its authors.

## Composition
Records by file:

{_table(counts["by_kind"])}
Battles by language:

{_table(counts["by_language"])}
Answers by model (in battles):

{_table(counts["by_model"])}
Each record is one arena battle (two anonymous answers and the volunteer's vote), one preference
pair, one rated answer, one message of a conversation tree, or one answer split into claims with
their true/false labels. Contributors appear only as pseudonyms that differ between releases.

## Collection process
Volunteers chatted with two anonymous models in the arena and voted, rated and flagged answers,
wrote better answers, ranked answers and checked claims in the task queue, or donated their own
conversations with other assistants after reviewing them. Each item needed several independent
responses; gold items with known answers measured each volunteer's accuracy.

## Preprocessing, cleaning and labelling
{filters}

Left out: {left_out or "nothing beyond the filters above"}.

## Uses
Training and evaluating reward models and preference-tuned models (the preference and unpaired
files load into TRL's DPO and KTO trainers as they are), studying agreement between people, and
recomputing the platform's leaderboards. Not for identifying the contributors.

## Distribution
Licence: {manifest["licence"]}. Files: JSONL and Parquet per kind, and a Hugging Face `DatasetDict`
saved to disk. Merkle root (RFC 6962, SHA-256) over every JSONL line: `{manifest["merkle_root"]}`
({manifest["merkle_tree_size"]:,} records).

## Maintenance
New versions are released as the pool grows. Contributors who erase their account are left out of
every later release. Questions and takedown requests go to the community's moderators.
"""


def release_notes_generate(*, release, manifest: dict, previous) -> str:
    counts = manifest["counts"]["by_kind"]
    lines = [f"# Release notes: {manifest['name']}", ""]
    if previous is None:
        lines.append("The first release.")
    else:
        before = (previous.manifest.get("counts") or {}).get("by_kind", {})
        lines.append(f"Changes since version {previous.version}:")
        for kind, count in counts.items():
            change = count - before.get(kind, 0)
            lines.append(f"- {kind}: {count:,} records ({change:+,})")
    lines += ["", "Left out, and why:"]
    lines += [f"- {count:,} {why}" for why, count in manifest["left_out"].items()] or ["- nothing"]
    return "\n".join(lines) + "\n"
