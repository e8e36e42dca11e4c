"""The Postgres/Supabase migrations, ``NNN_name.sql``, applied in order by :mod:`retsctl.sinks.migrations`."""
