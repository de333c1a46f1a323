"""SQL for reading the pool fast: times as a release writes them, lists of ids as arrays, and
the fingerprints that say whether a stored redaction is fresh.

A release writes a million battles' vote times and a few million messages' creation times.
Read as `datetime` objects they cost Python a few microseconds each (Django's time-zone
loader for psycopg runs in Python), then as much again to format; the database writes the same
text or number for nothing while it sends the row. Each expression gives exactly what Python
would: `UtcIso` what `formats.created_date_format` gives, `EpochSeconds` what
`datetime.timestamp()` gives (tests compare them on both databases).

SQLite keeps Django's datetimes as text in UTC, `YYYY-MM-DD HH:MM:SS[.ffffff]` (without the
fraction when it is zero), which the SQLite forms below read.
"""

from django.db.models import BigIntegerField, CharField, FloatField, Func, Lookup


class UtcIso(Func):
    """A time as `2025-03-01T10:00:00.000000+00:00`: UTC, ISO 8601, always with microseconds."""

    output_field = CharField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler,
            connection,
            template="""to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')""",
            **extra_context,
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler,
            connection,
            template=(
                "(replace(substr(%(expressions)s, 1, 19), ' ', 'T') || '.' "
                "|| substr(substr(%(expressions)s, 21) || '000000', 1, 6) || '+00:00')"
            ),
            **extra_context,
        )


class EpochSeconds(Func):
    """A time as seconds since 1970-01-01 UTC, a float, as `datetime.timestamp()` gives it.

    Both databases divide the exact whole number of microseconds by a million in double
    precision (PostgreSQL's exact `numeric` epoch, then rounded once to a float; SQLite the whole
    seconds from the Julian day, rounded, and the fraction's digits), which is what Python does:
    `timestamp()` divides the time's microseconds since the epoch by 10**6.
    """

    output_field = FloatField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler, connection, template="EXTRACT(EPOCH FROM %(expressions)s)::double precision", **extra_context
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler,
            connection,
            template=(
                "((CAST(round((julianday(substr(%(expressions)s, 1, 19)) - 2440587.5) * 86400) AS INTEGER) * 1000000 "
                "+ CAST(substr(substr(%(expressions)s, 21) || '000000', 1, 6) AS INTEGER)) / 1000000.0)"
            ),
            **extra_context,
        )


class AnyOf(Lookup):
    """`column = ANY(%s)` with the ids as one array parameter, for `QuerySet.filter(AnyOf(F(...), ids))`.

    `pk__in=ids` sends one placeholder per id: for a chunk of a few thousand ids, psycopg takes
    longer to bind them than PostgreSQL to answer, and PostgreSQL plans an array as the short
    list it is (index lookups), where a join on a range of ids was planned as a scan of the
    whole table. SQLite gets the plain `IN` list.

    The array goes as one text parameter in PostgreSQL's array syntax (`{1,2,3}`), written by
    `str.join`: psycopg dumps a Python list element by element in Python, which cost a release
    of a million battles 12 s, most of the reading thread's time.
    """

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        ids = list(self.rhs)
        if not ids:
            return "1 = 0", list(lhs_params)
        return f"{lhs} IN ({', '.join(['%s'] * len(ids))})", [*lhs_params, *ids]

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        array = "{" + ",".join(map(str, map(int, self.rhs))) + "}"
        return f"{lhs} = ANY(%s::bigint[])", [*lhs_params, array]


class TextKey(Func):
    """`pii.text_key` of a text column, computed by the database: the first 8 bytes of the
    SHA-256 of its UTF-8 as a signed big-endian integer.

    A release compares it with a message's `redacted_from` to know whether the stored redaction
    was computed from the text as it is now, for each of millions of messages: PostgreSQL hashes
    while it sends the row, on its own core, where Python took 1.5 microseconds a text with the
    GIL held. (Its hex form cast to `bit(64)` and then to `bigint` reads the bytes big-endian,
    as two's complement.) SQLite calls `text_key` itself, registered as a function on each
    connection when it opens (`feedback.apps`).
    """

    output_field = BigIntegerField()

    def as_postgresql(self, compiler, connection, **extra_context):
        template = (
            "('x' || encode(substring(sha256(convert_to(%(expressions)s, 'UTF8')) FROM 1 FOR 8), 'hex'))"
            "::bit(64)::bigint"
        )
        return self.as_sql(compiler, connection, template=template, **extra_context)

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, function="feedback_text_key", **extra_context)
