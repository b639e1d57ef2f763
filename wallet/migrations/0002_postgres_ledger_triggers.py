"""PostgreSQL-only guards of the ledger, in the spirit of django-hordak's migrations 0002/0052.

* A ``DEFERRABLE INITIALLY DEFERRED`` constraint trigger on postings refuses to commit a transaction in which
  the postings of an entry do not sum to zero; a second one refuses an entry committed with fewer than two
  postings (a half-posted entry). Deferred, so the check runs at COMMIT, once every leg is written.
* Row triggers make postings and journal entries append-only: UPDATE and DELETE are refused (mistakes are
  fixed with reversing entries). TRUNCATE, used by test teardown, is not a row operation and still works.

On other databases (SQLite in development and tests) this migration does nothing; the services check the
same rules in Python.
"""

from django.db import migrations

CREATE_SQL = """
CREATE OR REPLACE FUNCTION wallet_check_entry_balanced() RETURNS trigger AS $$
DECLARE
    v_entry_ids BIGINT[];
    v_entry_id BIGINT;
    v_total NUMERIC;
BEGIN
    IF TG_OP = 'INSERT' THEN
        v_entry_ids := ARRAY[NEW.entry_id];
    ELSIF TG_OP = 'DELETE' THEN
        v_entry_ids := ARRAY[OLD.entry_id];
    ELSE
        v_entry_ids := ARRAY[OLD.entry_id, NEW.entry_id];
    END IF;
    FOREACH v_entry_id IN ARRAY v_entry_ids LOOP
        SELECT COALESCE(SUM(amount_cents), 0) INTO v_total FROM wallet_posting WHERE entry_id = v_entry_id;
        IF v_total <> 0 THEN
            RAISE EXCEPTION 'wallet: the postings of journal entry % sum to % cents instead of zero',
                v_entry_id, v_total
                USING ERRCODE = 'check_violation';
        END IF;
    END LOOP;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER wallet_posting_entry_balanced
    AFTER INSERT OR UPDATE OR DELETE ON wallet_posting
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION wallet_check_entry_balanced();

CREATE OR REPLACE FUNCTION wallet_check_entry_has_postings() RETURNS trigger AS $$
DECLARE
    v_legs INTEGER;
BEGIN
    SELECT COUNT(*) INTO v_legs FROM wallet_posting WHERE entry_id = NEW.id;
    IF v_legs < 2 THEN
        RAISE EXCEPTION 'wallet: journal entry % (%) has % postings; an entry needs at least two',
            NEW.id, NEW.idempotency_key, v_legs
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER wallet_journalentry_has_postings
    AFTER INSERT ON wallet_journalentry
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION wallet_check_entry_has_postings();

CREATE OR REPLACE FUNCTION wallet_refuse_ledger_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'wallet: % is append-only (% refused); post a reversing entry instead', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER wallet_posting_append_only
    BEFORE UPDATE OR DELETE ON wallet_posting
    FOR EACH ROW EXECUTE FUNCTION wallet_refuse_ledger_change();

CREATE TRIGGER wallet_journalentry_append_only
    BEFORE UPDATE OR DELETE ON wallet_journalentry
    FOR EACH ROW EXECUTE FUNCTION wallet_refuse_ledger_change();
"""

DROP_SQL = """
DROP TRIGGER IF EXISTS wallet_journalentry_append_only ON wallet_journalentry;
DROP TRIGGER IF EXISTS wallet_posting_append_only ON wallet_posting;
DROP FUNCTION IF EXISTS wallet_refuse_ledger_change();
DROP TRIGGER IF EXISTS wallet_journalentry_has_postings ON wallet_journalentry;
DROP FUNCTION IF EXISTS wallet_check_entry_has_postings();
DROP TRIGGER IF EXISTS wallet_posting_entry_balanced ON wallet_posting;
DROP FUNCTION IF EXISTS wallet_check_entry_balanced();
"""


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE_SQL, params=None)  # None: "%" is not a placeholder


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("wallet", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(create_triggers, drop_triggers),
    ]
