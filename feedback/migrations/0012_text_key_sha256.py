"""A message's `redacted_from` is now the SHA-256-based `pii.text_key` (it was BLAKE2b), which
PostgreSQL computes too, so a release asks the database whether a stored redaction is fresh.

Each fingerprint that matched its text under the old function is written anew under the new
one. One that did not match was stale already and stays so: a release redacts that text anew,
as before. Both functions are written out here, as they were when this migration was made.
"""

import hashlib

from django.db import migrations

CHUNK = 2000


def _blake2b_key(text: str) -> int:
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _sha256_key(text: str) -> int:
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def keys_renew(apps, schema_editor):
    Message = apps.get_model("feedback", "Message")
    stored = Message.objects.exclude(redacted_from=None).order_by("pk")
    update = f"UPDATE {Message._meta.db_table} SET redacted_from = %s WHERE id = %s"  # noqa: S608 - our table's name
    last = 0
    with schema_editor.connection.cursor() as cursor:
        while chunk := list(stored.filter(pk__gt=last).values_list("pk", "text", "redacted_from")[:CHUNK]):
            last = chunk[-1][0]
            fresh = [(_sha256_key(text), pk) for pk, text, key in chunk if key == _blake2b_key(text)]
            if fresh:
                cursor.executemany(update, fresh)


class Migration(migrations.Migration):
    dependencies = [("feedback", "0011_schedule_trust_refresh")]

    operations = [migrations.RunPython(keys_renew, migrations.RunPython.noop, elidable=True)]
