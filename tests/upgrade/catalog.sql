-- Everything the extension owns, one line per object and property, for comparing an updated
-- installation with a fresh one (tests/integration/upgrade.sh). Run with psql -At.
WITH ext AS (SELECT oid FROM pg_extension WHERE extname = 'customer_tiers'),
members AS (SELECT d.classid, d.objid FROM pg_depend d, ext
            WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e')
SELECT line FROM (
    -- functions and aggregates: signature, kind, language, body/symbol, result, flags, config, comment
    SELECT format('function %s -> %s | %s %s | strict=%s vol=%s par=%s secdef=%s leak=%s | %s | %s | %s | comment=%s | acl=%s',
                  p.oid::regprocedure, pg_get_function_result(p.oid), p.prokind, l.lanname,
                  p.proisstrict, p.provolatile, p.proparallel, p.prosecdef, p.proleakproof,
                  pg_get_function_arguments(p.oid),
                  CASE WHEN l.lanname = 'c' THEN p.prosrc ELSE md5(p.prosrc) END,
                  p.proconfig, md5(coalesce(obj_description(p.oid, 'pg_proc'), '')), p.proacl) AS line
    FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
    JOIN pg_language l ON l.oid = p.prolang
    UNION ALL
    SELECT format('aggregate %s | trans=%s final=%s combine=%s serial=%s deserial=%s stype=%s finalmodify=%s init=%s',
                  a.aggfnoid::regprocedure, a.aggtransfn::regprocedure, a.aggfinalfn, a.aggcombinefn,
                  a.aggserialfn, a.aggdeserialfn, a.aggtranstype::regtype, a.aggfinalmodify, a.agginitval)
    FROM members m JOIN pg_aggregate a ON m.classid = 'pg_proc'::regclass AND a.aggfnoid = m.objid
    UNION ALL
    -- what each function or aggregate depends on (0.3.0 re-points the aggregates' dependencies)
    SELECT format('depends %s -> %s %s', d.objid::regprocedure, d.refobjid::regprocedure, d.deptype)
    FROM members m JOIN pg_depend d ON m.classid = 'pg_proc'::regclass AND d.classid = m.classid
         AND d.objid = m.objid AND d.refclassid = 'pg_proc'::regclass
    UNION ALL
    SELECT format('transtype %s stype=%s space=%s', a.aggfnoid::regprocedure, a.aggtranstype::regtype, a.aggtransspace)
    FROM members m JOIN pg_aggregate a ON m.classid = 'pg_proc'::regclass AND a.aggfnoid = m.objid
    UNION ALL
    -- types (composite types list their attributes)
    SELECT format('type %s %s | %s | comment=%s', t.oid::regtype, t.typtype,
                  (SELECT string_agg(format('%s %s', a.attname, format_type(a.atttypid, a.atttypmod)), ', ' ORDER BY a.attnum)
                   FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped),
                  md5(coalesce(obj_description(t.oid, 'pg_type'), '')))
    FROM members m JOIN pg_type t ON m.classid = 'pg_type'::regclass AND t.oid = m.objid
    UNION ALL
    -- tables and views: columns (in order), defaults, comments, privileges
    SELECT format('relation %s %s | acl=%s | rls=%s force=%s | comment=%s', c.oid::regclass, c.relkind, c.relacl,
                  c.relrowsecurity, c.relforcerowsecurity, md5(coalesce(obj_description(c.oid, 'pg_class'), '')))
    FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
    UNION ALL
    -- row-level security policies
    SELECT format('policy %s %s | %s %s to=%s | using=%s | check=%s | comment=%s', pol.polrelid::regclass,
                  pol.polname, pol.polcmd, pol.polpermissive, pol.polroles::regrole[],
                  pg_get_expr(pol.polqual, pol.polrelid), pg_get_expr(pol.polwithcheck, pol.polrelid),
                  md5(coalesce(obj_description(pol.oid, 'pg_policy'), '')))
    FROM members m JOIN pg_policy pol ON m.classid = 'pg_class'::regclass AND pol.polrelid = m.objid
    UNION ALL
    SELECT format('column %s.%s %s %s notnull=%s default=%s', c.oid::regclass, a.attname,
                  format_type(a.atttypid, a.atttypmod), a.attnum, a.attnotnull, pg_get_expr(ad.adbin, ad.adrelid))
    FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid AND c.relkind IN ('r', 'v')
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
    UNION ALL
    SELECT format('view %s | %s', c.oid::regclass, md5(pg_get_viewdef(c.oid)))
    FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid AND c.relkind = 'v'
    UNION ALL
    SELECT format('constraint %s %s %s', co.conrelid::regclass, co.contype, pg_get_constraintdef(co.oid))
    FROM members m JOIN pg_constraint co ON m.classid = 'pg_class'::regclass AND co.conrelid = m.objid
    UNION ALL
    SELECT format('index %s', regexp_replace(pg_get_indexdef(i.indexrelid), 'INDEX \S+ ON', 'INDEX ON'))
    FROM members m JOIN pg_index i ON m.classid = 'pg_class'::regclass AND i.indrelid = m.objid
    UNION ALL
    SELECT format('trigger %s', pg_get_triggerdef(tg.oid))
    FROM members m JOIN pg_trigger tg ON m.classid = 'pg_class'::regclass AND tg.tgrelid = m.objid AND NOT tg.tgisinternal
    UNION ALL
    -- the extension itself: version, schema, tables pg_dump keeps, schema privileges
    SELECT format('extension %s | config=%s | conditions=%s | schema acl=%s', e.extversion,
                  (SELECT array_agg(x::regclass::text ORDER BY x::regclass::text) FROM unnest(e.extconfig) x),
                  (SELECT array_agg(c ORDER BY c) FROM unnest(e.extcondition) c),
                  (SELECT nspacl FROM pg_namespace WHERE nspname = 'tiers'))
    FROM pg_extension e WHERE e.extname = 'customer_tiers'
    UNION ALL
    -- presets shipped as data
    SELECT format('preset rule %s %s %s', rule_set, priority, segment) FROM tiers.rfm_segment_rules WHERE preset
    UNION ALL
    SELECT format('preset tag %s %s %s', tag, expression, params) FROM tiers.tag_rules WHERE preset
) x ORDER BY line;
