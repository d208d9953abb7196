-- Rule-based customer tags (src/tags.rs, core/src/tags/).

-- Tag rules: a boolean expression over the columns of a customer row (see tiers.tag_columns()),
-- with named parameters ($name in the expression, values in params). Presets are read-only rows
-- restored by CREATE EXTENSION; a user row with the same tag overrides the preset.
CREATE TABLE tiers.tag_rules (
    tag         text NOT NULL CHECK (pg_catalog.btrim(tag) OPERATOR(pg_catalog.<>) ''
                                     AND tag OPERATOR(pg_catalog.=) pg_catalog.btrim(tag)),
    expression  text NOT NULL,
    params      jsonb NOT NULL DEFAULT '{}'
                CHECK (pg_catalog.jsonb_typeof(params) OPERATOR(pg_catalog.=) 'object'),
    label_zh    text,
    description text NOT NULL DEFAULT '',
    position    integer NOT NULL DEFAULT 1000,
    enabled     boolean NOT NULL DEFAULT true,
    preset      boolean NOT NULL DEFAULT false,
    PRIMARY KEY (tag, preset)
);
COMMENT ON TABLE tiers.tag_rules IS
    'Tag rules (user rows kept by pg_dump; presets read-only and restored by CREATE EXTENSION). expression: a boolean expression over the columns of tiers.tag_columns(), $name parameters taken from params; validated on insert and update.';

SELECT pg_catalog.pg_extension_config_dump('tiers.tag_rules', 'WHERE NOT preset');

------------------------------------------------------------------------------------------
-- tags: rule-based customer tags
------------------------------------------------------------------------------------------
INSERT INTO tiers.tag_rules (tag, expression, params, label_zh, description, position, preset)
SELECT p.tag, p.expression, p.params, p.label_zh, p.description, p.position, true
FROM tiers.tag_presets() AS p;

CREATE FUNCTION tiers.tag_rule_check(expression text, params jsonb DEFAULT '{}')
    RETURNS text[] LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_tag_rule_check';
COMMENT ON FUNCTION tiers.tag_rule_check(text, jsonb) IS
    'Validates a tag rule expression with its params and returns the columns it reads. Errors (22023) say what is wrong: syntax, unknown column or function, undefined $parameter, type mismatch, a non-boolean result.';

CREATE FUNCTION tiers.tag_rules_guard() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $guard$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.preset THEN
        RAISE EXCEPTION 'tag "%" is a preset and cannot be changed', OLD.tag
            USING ERRCODE = '22023',
                  HINT = 'Override it with tiers.tune_tag(tag, params, enabled) or insert a rule with the same tag.';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    IF NEW.preset THEN
        RAISE EXCEPTION 'tag "%": only CREATE EXTENSION adds presets', NEW.tag
            USING ERRCODE = '22023';
    END IF;
    PERFORM tiers.tag_rule_check(NEW.expression, NEW.params);
    RETURN NEW;
END
$guard$;
COMMENT ON FUNCTION tiers.tag_rules_guard() IS
    'Trigger: presets are read-only; every user rule is validated with tiers.tag_rule_check.';
CREATE TRIGGER tag_rules_guard BEFORE INSERT OR UPDATE OR DELETE ON tiers.tag_rules
    FOR EACH ROW EXECUTE FUNCTION tiers.tag_rules_guard();

CREATE VIEW tiers.effective_tag_rules AS
SELECT DISTINCT ON (r.tag) r.tag, r.expression, r.params, r.label_zh, r.description,
       r.position, r.enabled, r.preset
FROM tiers.tag_rules AS r
ORDER BY r.tag, r.preset;
COMMENT ON VIEW tiers.effective_tag_rules IS
    'The tag rules in force: the user rule where one exists for a tag, else the preset.';
GRANT SELECT ON tiers.effective_tag_rules TO PUBLIC;

CREATE FUNCTION tiers.tune_tag(tag text, params jsonb DEFAULT '{}', enabled boolean DEFAULT true)
    RETURNS tiers.tag_rules LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp AS $tune$
DECLARE
    base tiers.tag_rules;
    result tiers.tag_rules;
BEGIN
    IF tag IS NULL OR params IS NULL OR enabled IS NULL THEN
        RAISE EXCEPTION 'tag, params and enabled must not be NULL' USING ERRCODE = '22004';
    END IF;
    IF jsonb_typeof(params) <> 'object' THEN
        RAISE EXCEPTION 'params must be a jsonb object' USING ERRCODE = '22023';
    END IF;
    SELECT r.* INTO base FROM tiers.tag_rules AS r
    WHERE r.tag = tune_tag.tag ORDER BY r.preset LIMIT 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tag "%" does not exist in tiers.tag_rules', tag USING ERRCODE = '22023';
    END IF;
    IF NOT base.preset THEN
        DELETE FROM tiers.tag_rules AS r WHERE r.tag = tune_tag.tag AND NOT r.preset;
    END IF;
    INSERT INTO tiers.tag_rules (tag, expression, params, label_zh, description, position, enabled)
    VALUES (base.tag, base.expression, base.params || tune_tag.params, base.label_zh,
            base.description, base.position, tune_tag.enabled)
    RETURNING * INTO result;
    RETURN result;
END
$tune$;
COMMENT ON FUNCTION tiers.tune_tag(text, jsonb, boolean) IS
    'Overrides a tag (typically a preset) with changed parameters (merged into the current ones) and/or disabled; returns the stored rule. Unknown tag or a parameter the expression cannot use: 22023. Undo with DELETE FROM tiers.tag_rules WHERE tag = ... AND NOT preset.';

CREATE FUNCTION tiers.customer_tags(customer record, tags text[] DEFAULT NULL,
                                    lang text DEFAULT NULL)
    RETURNS text[] LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'ct_customer_tags';
COMMENT ON FUNCTION tiers.customer_tags(record, text[], text) IS
    'Tags of a customer row (any row type; columns are matched by name, see tiers.tag_columns(); a missing column is NULL): the enabled rules of tiers.effective_tag_rules that are TRUE for the row, in position order, or only the rules named in tags. lang ''zh'' returns the Chinese labels; without lang (or NULL), the setting customer_tiers.language, else ''en''. NULL row: NULL; no match: {}. Unknown tag: 22023; a column of the wrong type: 42804.';
COMMENT ON FUNCTION tiers.tag_columns() IS
    'The columns a tag rule may reference, with their kind (number, text, boolean).';
COMMENT ON FUNCTION tiers.tag_presets() IS
    'The preset tag rules compiled into the extension (installed into tiers.tag_rules by CREATE EXTENSION).';
