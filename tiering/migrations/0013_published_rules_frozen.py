"""A rule set that has been in force is frozen in the database too (tiering.models.RuleSet.save
refuses the same writes with a clearer message).

- tiering_ruleset: UPDATE and DELETE of a published or retired row are refused, except retiring a
  published set (status published -> retired, nothing else changed) and emptying created_by /
  published_by (what deleting a user does, ON DELETE SET NULL in the ORM). The timestamps are
  bookkeeping, not rules: loading a dump (JSON keeps milliseconds) rewrites them.
- tiering_rulegroup, tiering_condition: UPDATE and DELETE of rows of such a set are refused, and
  so is adding one to a set a run has used (so a run's "v1" keeps meaning the rules it ran with).
  Plain INSERTs into a published set no run used stay possible, as loading fixtures needs.

TRUNCATE fires no row trigger: test flushes still empty the tables. Frozen SQL: never import code.
"""

from django.db import migrations

ERRCODE = "23001"  # restrict_violation: Django raises IntegrityError

RULESET_SQL = f"""
CREATE OR REPLACE FUNCTION tiering_ruleset_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 'draft' THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    IF TG_OP = 'UPDATE'
       AND (NEW.status = OLD.status OR (OLD.status = 'published' AND NEW.status = 'retired'))
       AND (NEW.id, NEW.version, NEW.notes, NEW.grace_runs) IS NOT DISTINCT FROM (OLD.id, OLD.version, OLD.notes, OLD.grace_runs)
       AND (NEW.created_by_id IS NULL OR NEW.created_by_id IS NOT DISTINCT FROM OLD.created_by_id)
       AND (NEW.published_by_id IS NULL OR NEW.published_by_id IS NOT DISTINCT FROM OLD.published_by_id) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'Rule set v% is % and cannot be changed: create a draft from it and publish that.',
        OLD.version, OLD.status USING ERRCODE = '{ERRCODE}';
END $$;
DROP TRIGGER IF EXISTS tiering_ruleset_frozen ON tiering_ruleset;
CREATE TRIGGER tiering_ruleset_frozen BEFORE UPDATE OR DELETE ON tiering_ruleset
    FOR EACH ROW EXECUTE FUNCTION tiering_ruleset_frozen();
"""

# The rule set a group or condition row belongs to, before (old_set) and after (new_set) the write.
RULES_SQL = f"""
CREATE OR REPLACE FUNCTION tiering_refuse_frozen_rules(old_set bigint, new_set bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    frozen record;
BEGIN
    SELECT s.version, s.status INTO frozen FROM tiering_ruleset s
    WHERE s.status <> 'draft'
      AND (s.id = old_set
           OR (s.id = new_set AND (old_set IS NOT NULL
                                   OR EXISTS (SELECT 1 FROM tiering_retierrun r WHERE r.ruleset_id = s.id))))
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'Rule set v% is % and its rules cannot be changed: create a draft from it and publish that.',
            frozen.version, frozen.status USING ERRCODE = '{ERRCODE}';
    END IF;
END $$;

CREATE OR REPLACE FUNCTION tiering_rulegroup_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW IS NOT DISTINCT FROM OLD THEN
        RETURN NEW;  -- a save that changes nothing (loading a dump)
    ELSIF TG_OP = 'INSERT' THEN
        PERFORM tiering_refuse_frozen_rules(NULL, NEW.ruleset_id);
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM tiering_refuse_frozen_rules(OLD.ruleset_id, NEW.ruleset_id);
    ELSE
        PERFORM tiering_refuse_frozen_rules(OLD.ruleset_id, NULL);
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;

CREATE OR REPLACE FUNCTION tiering_condition_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW IS NOT DISTINCT FROM OLD THEN
        RETURN NEW;  -- a save that changes nothing (loading a dump)
    ELSIF TG_OP = 'INSERT' THEN
        PERFORM tiering_refuse_frozen_rules(
            NULL, (SELECT ruleset_id FROM tiering_rulegroup WHERE id = NEW.group_id));
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM tiering_refuse_frozen_rules(
            (SELECT ruleset_id FROM tiering_rulegroup WHERE id = OLD.group_id),
            (SELECT ruleset_id FROM tiering_rulegroup WHERE id = NEW.group_id));
    ELSE
        PERFORM tiering_refuse_frozen_rules(
            (SELECT ruleset_id FROM tiering_rulegroup WHERE id = OLD.group_id), NULL);
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;

DROP TRIGGER IF EXISTS tiering_rulegroup_frozen ON tiering_rulegroup;
CREATE TRIGGER tiering_rulegroup_frozen BEFORE INSERT OR UPDATE OR DELETE ON tiering_rulegroup
    FOR EACH ROW EXECUTE FUNCTION tiering_rulegroup_frozen();
DROP TRIGGER IF EXISTS tiering_condition_frozen ON tiering_condition;
CREATE TRIGGER tiering_condition_frozen BEFORE INSERT OR UPDATE OR DELETE ON tiering_condition
    FOR EACH ROW EXECUTE FUNCTION tiering_condition_frozen();
"""

REVERSE_SQL = """
DROP TRIGGER IF EXISTS tiering_condition_frozen ON tiering_condition;
DROP TRIGGER IF EXISTS tiering_rulegroup_frozen ON tiering_rulegroup;
DROP TRIGGER IF EXISTS tiering_ruleset_frozen ON tiering_ruleset;
DROP FUNCTION IF EXISTS tiering_condition_frozen();
DROP FUNCTION IF EXISTS tiering_rulegroup_frozen();
DROP FUNCTION IF EXISTS tiering_refuse_frozen_rules(bigint, bigint);
DROP FUNCTION IF EXISTS tiering_ruleset_frozen();
"""


def freeze(apps, schema_editor):
    schema_editor.execute(RULESET_SQL, params=None)
    schema_editor.execute(RULES_SQL, params=None)


def thaw(apps, schema_editor):
    schema_editor.execute(REVERSE_SQL, params=None)


class Migration(migrations.Migration):
    dependencies = [("tiering", "0012_run_heartbeat_and_deliveries")]

    operations = [migrations.RunPython(freeze, thaw)]
