// `#[pg_test]` integration tests: run inside a real PostgreSQL by `cargo pgrx test`.
use pgrx::prelude::*;

fn one<T: FromDatum + IntoDatum>(sql: &str) -> T {
    Spi::get_one::<T>(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .unwrap_or_else(|| panic!("{sql}: NULL"))
}

#[pg_test]
fn summary_of_one_customer() {
    let freq: i64 = one(
        "SELECT (tiers.customer_summary(d, a, date '2020-01-31')).frequency \
         FROM (VALUES (date '2020-01-01', 1.0::float8), ('2020-01-01', 2), ('2020-01-05', 3)) v(d, a)",
    );
    assert_eq!(freq, 1);
}

/// The numeric fast path gives exactly what PostgreSQL's numeric -> float8 cast gives.
#[pg_test]
fn numeric_decoder_matches_numeric_float8() {
    let cases = [
        "0", "-0", "1", "-1", "0.1", "0.2", "0.3", "12.34", "-7969.8526", "123456789012.34",
        "9007199254740992", "9007199254740993", "-9007199254740993", "1e22", "1e23", "1e-22",
        "1e-23", "0.000000000001", "99999999999999999999.99", "1.7976931348623157e308",
        "4.9e-324", "2.2250738585072014e-308", "10000", "100000000", "0.0001", "0.00010001",
        "NaN", "Infinity", "-Infinity", "3.14159265358979323846264338327950288",
    ];
    for c in cases {
        let (ours, theirs) = Spi::connect(|client| {
            let row = client
                .select(&format!("SELECT '{c}'::numeric, '{c}'::numeric::float8"), None, &[])
                .unwrap()
                .first();
            let datum = row.get_datum_by_ordinal(1).unwrap().unwrap();
            // SAFETY: column 1 is a non-NULL numeric of the row, valid inside Spi::connect
            let ours = unsafe { crate::numeric::to_f64(datum) };
            let theirs: f64 = row.get(2).unwrap().unwrap();
            (ours, theirs)
        });
        assert!(
            ours.to_bits() == theirs.to_bits() || (ours.is_nan() && theirs.is_nan()),
            "{c}: ours {ours:e} vs PostgreSQL {theirs:e}"
        );
    }
}

/// Rule sets are cached per call site, yet a later statement sees an edited rule set.
#[pg_test]
fn rule_set_cache_sees_later_statements() {
    Spi::run("SELECT tiers.rfm_copy_rule_set('standard', 'edited')").unwrap();
    let before: String = one("SELECT tiers.rfm_segment(5, 5, 5, 'edited')");
    assert_eq!(before, "Champions");
    Spi::run(
        "UPDATE tiers.rfm_segment_rules SET segment = 'Stars' \
         WHERE rule_set = 'edited' AND segment = 'Champions'",
    )
    .unwrap();
    let after: String = one("SELECT tiers.rfm_segment(5, 5, 5, 'edited')");
    assert_eq!(after, "Stars");
}

/// One call site, two different models: the model cache follows the value of each row.
#[pg_test]
fn score_cache_follows_the_model_value() {
    let scores: String = one(
        "SELECT string_agg((tiers.rfm_score(5, 5, 5, m::tiers.rfm_model)).score, ',' ORDER BY k) \
         FROM (VALUES (1, '(5,0,\"{1,2,3,4}\",\"{1,2,3,4}\",\"{1,2,3,4}\",0,0,0)'), \
                      (2, '(5,0,\"{10,20,30,40}\",\"{10,20,30,40}\",\"{10,20,30,40}\",0,0,0)'), \
                      (3, '(5,0,\"{1,2,3,4}\",\"{1,2,3,4}\",\"{1,2,3,4}\",0,0,0)')) v(k, m)",
    );
    assert_eq!(scores, "155,511,155");
}

/// Occasions of timestamptz purchases are calendar days in the session time zone, also
/// across a daylight-saving change.
#[pg_test]
fn timestamptz_days_across_dst() {
    Spi::run("SET LOCAL TimeZone = 'America/New_York'").unwrap();
    // 2024-03-10 02:00 local: clocks jump to 03:00. 23:30 local on 03-09 and 00:30 local on
    // 03-10 are different days; 01:30 and 03:30 local on 03-10 are the same day.
    let occasions: i64 = one(
        "SELECT (tiers.customer_summary(t, 1.0, '2024-03-20 00:00-04')).occasions FROM (VALUES \
         ('2024-03-09 23:30-05'::timestamptz), ('2024-03-10 00:30-05'), \
         ('2024-03-10 01:30-05'), ('2024-03-10 03:30-04')) v(t)",
    );
    assert_eq!(occasions, 2);
    // recency is the exact duration: 03:30 on 03-09 to 03:30 on 03-10 is 23 hours (the clocks
    // jumped); two orders on one day are one occasion, recency 0 (the models require it)
    let recency_hours: f64 = one(
        "SELECT (tiers.customer_summary(t, 1.0, '2024-03-20 00:00-04', '1 hour')).recency \
         FROM (VALUES ('2024-03-09 03:30-05'::timestamptz), ('2024-03-10 03:30-04')) v(t)",
    );
    assert_eq!(recency_hours, 23.0);
    let same_day: f64 = one(
        "SELECT (tiers.customer_summary(t, 1.0, '2024-03-20 00:00-04', '1 hour')).recency \
         FROM (VALUES ('2024-03-10 01:30-05'::timestamptz), ('2024-03-10 03:30-04')) v(t)",
    );
    assert_eq!(same_day, 0.0);
}

/// A model stored in a table scores the same as the inline window model.
#[pg_test]
fn stored_model_equals_window_model() {
    Spi::run(
        "CREATE TEMP TABLE s AS SELECT g AS id, (g % 97)::float8 r, (g % 13)::float8 f, \
         (g * 7 % 1000)::float8 m FROM generate_series(1, 5000) g",
    )
    .unwrap();
    Spi::run("CREATE TEMP TABLE model AS SELECT tiers.rfm_model(r, f, m) AS m FROM s").unwrap();
    let differences: i64 = one(
        "SELECT count(*) FROM (SELECT id, tiers.rfm_score(r, f, m, tiers.rfm_model(r, f, m) OVER ()) a, \
         tiers.rfm_score(r, f, m, (SELECT m FROM model)) b FROM s) t WHERE a IS DISTINCT FROM b",
    );
    assert_eq!(differences, 0);
}

/// One abc_class call site, models changing between rows (PARTITION BY): every row is
/// classified with its own partition's model.
#[pg_test]
fn abc_class_follows_the_model_of_each_partition() {
    let classes: String = one(
        "SELECT string_agg(c, '' ORDER BY g, v DESC) FROM ( \
           SELECT g, v, tiers.abc_class(v, tiers.abc_model(v) OVER (PARTITION BY g)) c \
           FROM (VALUES (1, 90.0::float8), (1, 10), (2, 50), (2, 30), (2, 20)) t(g, v)) x",
    );
    // group 1: 90 (share above 0) A, 10 (.9 < .95) B; group 2: 50 A, 30 (.5) A, 20 (.8) B
    assert_eq!(classes, "ABAAB");
}

/// A plain in-line model value and the same value stored (and possibly compressed) in a table
/// give the same classes.
#[pg_test]
fn stored_abc_model_is_read_like_an_inline_one() {
    Spi::run("CREATE TEMP TABLE m AS SELECT tiers.abc_model(g::float8) AS m FROM generate_series(1, 1000) g")
        .unwrap();
    let differences: i64 = one(
        "SELECT count(*) FROM generate_series(1, 1000) g, m \
         WHERE tiers.abc_class(g::float8, m.m) IS DISTINCT FROM \
               tiers.abc_class(g::float8, (SELECT tiers.abc_model(x::float8) FROM generate_series(1, 1000) x))",
    );
    assert_eq!(differences, 0);
}

/// Every table of `src/names.rs` equals the fields of its composite type in the catalog.
#[pg_test]
fn composite_fields_match_the_catalog() {
    for (type_name, fields) in crate::names::ALL {
        let catalog: Vec<Option<String>> = one(&format!(
            "SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_attribute a \
             WHERE a.attrelid = 'tiers.{type_name}'::regclass AND a.attnum > 0 AND NOT a.attisdropped"
        ));
        let catalog: Vec<String> = catalog.into_iter().flatten().collect();
        assert_eq!(catalog, fields.to_vec(), "tiers.{type_name}");
    }
    // every composite type of the schema has a table
    let types: i64 = one(
        "SELECT count(*) FROM pg_type t JOIN pg_class c ON c.oid = t.typrelid \
         WHERE t.typnamespace = 'tiers'::regnamespace AND c.relkind = 'c'",
    );
    assert_eq!(types as usize, crate::names::ALL.len());
}

/// Every table of `src/args.rs` equals, in order, the argument names of the SQL functions (or,
/// for an aggregate, of the aggregates whose transition function it names) it covers, each
/// overload a prefix of it and the longest all of it; and every C function of the extension
/// reads its arguments through a table, or is listed as reading none by name.
#[pg_test]
fn function_arguments_match_the_catalog() {
    use crate::args::{Kind, ALL, NO_NAMED_ARGS, PGRX};
    use std::collections::BTreeSet;

    const C_FUNCTIONS: &str = "p.pronamespace = 'tiers'::regnamespace \
         AND p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'c') \
         AND p.probin LIKE '%customer_tiers%'";
    let quoted = |items: &[&str]| -> String {
        let list: Vec<String> = items.iter().map(|s| format!("'{s}'")).collect();
        format!("ARRAY[{}]::text[]", list.join(", "))
    };
    let rows = |sql: &str| -> Vec<String> {
        let all: Vec<Option<String>> =
            one(&format!("SELECT coalesce(array_agg(r ORDER BY r), '{{}}') FROM ({sql}) x(r)"));
        all.into_iter().flatten().collect()
    };

    for table in ALL {
        let what = format!("{:?} {:?} over {:?}", table.kind, table.sql, table.symbols);
        let symbols = quoted(table.symbols);
        // one row per overload: name|argument count|symbol|names (for an aggregate, `symbol`
        // is its transition function's, and that function has one argument more: the state)
        let overloads = rows(&match table.kind {
            Kind::Function => format!(
                "SELECT format('%s|%s|%s|%s', p.proname, p.pronargs, p.prosrc, \
                   array_to_string(p.proargnames[1:p.pronargs], ',')) \
                 FROM pg_proc p WHERE {C_FUNCTIONS} AND p.prokind = 'f' \
                   AND p.prosrc = ANY({symbols})"
            ),
            Kind::Aggregate => format!(
                "SELECT format('%s|%s|%s|%s', a.proname, a.pronargs, p.prosrc, \
                   array_to_string(a.proargnames[1:a.pronargs], ',')) \
                 FROM pg_aggregate g JOIN pg_proc a ON a.oid = g.aggfnoid \
                   JOIN pg_proc p ON p.oid = g.aggtransfn \
                 WHERE {C_FUNCTIONS} AND a.pronamespace = 'tiers'::regnamespace \
                   AND p.prosrc = ANY({symbols}) AND p.pronargs = a.pronargs + {}",
                table.offset()
            ),
        });
        assert!(!overloads.is_empty(), "{what}: no such function in the catalog");
        let mut longest = 0;
        let (mut names_found, mut symbols_found) = (BTreeSet::new(), BTreeSet::new());
        for row in &overloads {
            let parts: Vec<&str> = row.splitn(4, '|').collect();
            let (name, nargs, symbol) = (parts[0], parts[1].parse::<usize>().unwrap(), parts[2]);
            let args: Vec<&str> = parts[3].split(',').filter(|s| !s.is_empty()).collect();
            assert!(table.sql.contains(&name), "{what}: also serves tiers.{name}");
            assert!(
                nargs <= table.names.len() && args == table.names[..nargs],
                "{what}: tiers.{name}({}) ({symbol}) is not a prefix of {:?}",
                parts[3],
                table.names
            );
            longest = longest.max(nargs);
            names_found.insert(name.to_string());
            symbols_found.insert(symbol.to_string());
        }
        assert_eq!(longest, table.names.len(), "{what}: no overload takes all arguments");
        let listed: BTreeSet<String> = table.sql.iter().map(|s| s.to_string()).collect();
        assert_eq!(names_found, listed, "{what}: SQL names");
        let listed: BTreeSet<String> = table.symbols.iter().map(|s| s.to_string()).collect();
        assert_eq!(symbols_found, listed, "{what}: symbols (an aggregate's transition needs one argument more)");
    }

    // every C function of the extension is covered, once
    let mut covered: BTreeSet<&str> = BTreeSet::new();
    for s in ALL.iter().flat_map(|t| t.symbols.iter()) {
        assert!(covered.insert(s), "{s} is in two tables");
    }
    for s in NO_NAMED_ARGS.iter().chain(PGRX) {
        assert!(covered.insert(s), "{s} is in a table and a list, or twice in a list");
    }
    let catalog = rows(&format!("SELECT DISTINCT p.prosrc FROM pg_proc p WHERE {C_FUNCTIONS}"));
    let missing: Vec<&String> = catalog.iter().filter(|s| !covered.contains(s.as_str())).collect();
    assert!(
        missing.is_empty(),
        "C functions with no table in src/args.rs (nor in NO_NAMED_ARGS or PGRX): {missing:?}"
    );
    let stale: Vec<&&str> = NO_NAMED_ARGS
        .iter()
        .chain(PGRX)
        .filter(|s| !catalog.iter().any(|c| c == **s))
        .collect();
    assert!(stale.is_empty(), "listed but not in the catalog: {stale:?}");
}

/// Lookups pass names as parameters and read typed values: a scheme and a rule set named with
/// a quote, a backslash and double quotes round-trip, a -Infinity threshold comes back as one,
/// and the scheme's max_drop/grace_evaluations are read.
#[pg_test]
fn lookups_with_odd_names() {
    let name = r#"it's \ "odd""#;
    let arg = || -> [pgrx::datum::DatumWithOid<'static>; 1] { [name.into()] };
    let one_with = |sql: &str| -> String {
        Spi::get_one_with_args::<String>(sql, &arg())
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .unwrap_or_else(|| panic!("{sql}: NULL"))
    };
    let levels: i32 = Spi::get_one_with_args(
        "SELECT tiers.define_tier_scheme($1, \
           '[{\"tier\": \"low\", \"entry\": \"-Infinity\"}, \
             {\"tier\": \"mid\", \"entry\": 10}, \
             {\"tier\": \"high\", \"entry\": 100, \"retain\": 50}]', \
           max_drop => 1, grace_evaluations => 2)",
        &arg(),
    )
    .unwrap()
    .unwrap();
    assert_eq!(levels, 3);
    let lowest: f64 = Spi::get_one_with_args(
        "SELECT entry FROM tiers.tier_levels WHERE scheme = $1 AND rank = 1",
        &arg(),
    )
    .unwrap()
    .unwrap();
    assert_eq!(lowest, f64::NEG_INFINITY);
    assert_eq!(one_with("SELECT tiers.tier_of(-1e300, $1)"), "low");
    assert_eq!(one_with("SELECT tiers.tier_of(150, $1)"), "high");
    // retain 50 keeps high; below it max_drop 1 allows one step down only
    assert_eq!(one_with("SELECT tiers.tier_of(60, $1, 'high')"), "high");
    assert_eq!(one_with("SELECT tiers.tier_of(0, $1, 'high')"), "mid");
    // grace_evaluations 2: a drop is held while fewer than 2 were held in a row
    assert_eq!(one_with("SELECT tiers.tier_of(0, $1, 'high', 1)"), "high");
    assert_eq!(one_with("SELECT tiers.tier_of(0, $1, 'high', 2)"), "mid");

    Spi::run_with_args("SELECT tiers.rfm_copy_rule_set('standard', $1)", &arg()).unwrap();
    assert_eq!(
        one_with("SELECT tiers.rfm_segment(5, 5, 5, $1)"),
        "Champions"
    );
}

/// Every default of the extension's functions (`DEFAULT` clauses, read from the catalog) and of
/// a tier view's options (`tiers.tier_view_options('{}')`) equals its constant in
/// `src/defaults.rs`; a default that the tables below do not list fails (add it there, with
/// its constant), and so does a listed one the catalog no longer has.
#[pg_test]
fn defaults_match_the_catalog() {
    use crate::defaults as d;
    use std::collections::BTreeSet;

    /// A default as the tables expect it.
    #[derive(Debug, Clone, Copy)]
    enum Want {
        /// NULL: "the setting, else the function's default" (`lang`) or "all"/"keep" (the
        /// others).
        Null,
        Float(f64),
        Int(i64),
        Text(&'static str),
        Bool(bool),
        /// An interval of so many months and days (compared as text: '1 month' is not '30 days').
        Interval(i32, i32),
        Json(&'static str),
        /// An expression evaluated at each call, compared as PostgreSQL deparses it.
        Expr(&'static str),
    }
    use Want::*;

    // (function, argument) -> its default in every overload that has the argument. The empty
    // '' / '{}' and CURRENT_DATE are neutral values with no constant of their own.
    let functions: &[(&str, &str, Want)] = &[
        ("summary_from_state", "unit", Interval(0, d::UNIT_DAYS)),
        ("rfm_segment", "rule_set", Text(d::RULE_SET)),
        ("rfm_class8", "lang", Null),
        ("rfm_copy_rule_set", "description", Null),
        ("abc_class", "a_cut", Float(d::A_CUT)),
        ("abc_class", "b_cut", Float(d::B_CUT)),
        ("clv_estimate", "discount_period", Interval(d::DISCOUNT_PERIOD_MONTHS, 0)),
        ("expected_purchases_interval", "level", Float(d::LEVEL)),
        ("clv_interval", "discount_period", Interval(d::DISCOUNT_PERIOD_MONTHS, 0)),
        ("clv_interval", "level", Float(d::LEVEL)),
        ("p_alive", "periods_ahead", Int(d::PERIODS_AHEAD as i64)),
        ("define_tier_scheme", "max_drop", Null),
        ("define_tier_scheme", "lowest_is_floor", Bool(d::LOWEST_IS_FLOOR)),
        ("define_tier_scheme", "description", Text("")),
        ("define_tier_scheme", "grace_evaluations", Null),
        ("snapshot_tiers", "evaluated_on", Expr("CURRENT_DATE")),
        ("tag_rule_check", "params", Json("{}")),
        ("tune_tag", "params", Json("{}")),
        ("tune_tag", "enabled", Bool(d::TAG_ENABLED)),
        ("customer_tags", "tags", Null),
        ("customer_tags", "lang", Null),
        ("cohort_retention", "period", Interval(d::COHORT_PERIOD_MONTHS, 0)),
        ("cohort_retention", "options", Json("{}")),
        ("kmeans_label", "lang", Null),
        ("save_kmeans_model", "description", Text("")),
        ("refresh_tier_view", "wait", Bool(d::REFRESH_WAIT)),
        ("refresh_tier_view", "full", Bool(d::REFRESH_FULL)),
        ("create_tier_view", "options", Json("{}")),
    ];
    // option -> its value in tiers.tier_view_options('{}') (with customer_tiers.language unset)
    let options: &[(&str, Want)] = &[
        ("unit", Interval(0, d::UNIT_DAYS)),
        ("bins", Int(d::BINS as i64)),
        ("rule_set", Text(d::RULE_SET)),
        ("abc_a_cut", Float(d::A_CUT)),
        ("abc_b_cut", Float(d::B_CUT)),
        ("class8_lang", Text(d::CLASS8_LANG)),
        ("tier_value", Text(d::VIEW_TIER_VALUE)),
        ("history", Bool(d::VIEW_HISTORY)),
        ("clv", Bool(d::VIEW_CLV)),
        ("clv_horizon", Interval(d::VIEW_CLV_HORIZON_MONTHS, 0)),
        ("clv_discount", Float(d::VIEW_CLV_DISCOUNT)),
        ("recent_window", Interval(0, d::VIEW_RECENT_WINDOW_DAYS)),
        ("schema", Text(d::VIEW_SCHEMA)),
        ("clv_within", Bool(d::VIEW_CLV_WITHIN)),
    ];
    // the Rust default of the unit is the SQL one
    assert_eq!(
        d::UNIT_USECS,
        customer_tiers_core::time::interval_usecs(0, d::UNIT_DAYS, 0)
    );

    // The value of the SQL expression `value` (`deparsed` as the catalog shows it) is `want`.
    let check = |what: &str, value: &str, deparsed: &str, want: Want| {
        let got = |cast: &str| -> Option<String> {
            let sql = format!("SELECT (({value})::{cast})::text");
            Spi::get_one::<String>(&sql).unwrap_or_else(|e| panic!("{what}: {sql}: {e}"))
        };
        let ok = match want {
            Null => got("text").is_none(),
            Float(x) => got("float8").and_then(|s| s.parse::<f64>().ok()) == Some(x),
            Int(x) => got("int8").and_then(|s| s.parse::<i64>().ok()) == Some(x),
            Text(s) => got("text").as_deref() == Some(s),
            Bool(b) => got("bool").as_deref() == Some(if b { "true" } else { "false" }),
            Interval(months, days) => {
                let expected: String = one(&format!(
                    "SELECT make_interval(months => {months}, days => {days})::text"
                ));
                got("interval") == Some(expected)
            }
            Json(s) => one::<bool>(&format!(
                "SELECT ({value})::jsonb IS NOT DISTINCT FROM '{s}'::jsonb"
            )),
            Expr(s) => deparsed == s,
        };
        assert!(ok, "{what}: the default is {deparsed}, src/defaults.rs has {want:?}");
    };

    // every default of every function of the extension, one row per (overload, argument):
    // name|argument|signature|default (positions count all arguments, as proargnames does)
    let rows: Vec<Option<String>> = one(
        "SELECT coalesce(array_agg(format('%s|%s|%s|%s', p.proname, \
                   coalesce(p.proargnames[n], '$' || n), p.oid::regprocedure, \
                   pg_get_function_arg_default(p.oid, n))), '{}') \
         FROM pg_proc p \
           JOIN pg_depend dep ON dep.classid = 'pg_proc'::regclass AND dep.objid = p.oid \
             AND dep.deptype = 'e' \
           JOIN pg_extension e ON e.oid = dep.refobjid AND e.extname = 'customer_tiers' \
           CROSS JOIN LATERAL generate_series(1, coalesce(array_length(p.proallargtypes, 1), \
             p.pronargs)) n \
         WHERE p.pronargdefaults > 0 AND pg_get_function_arg_default(p.oid, n) IS NOT NULL",
    );
    let mut uncovered = Vec::new();
    let mut seen = BTreeSet::new();
    for row in rows.into_iter().flatten() {
        let parts: Vec<&str> = row.splitn(4, '|').collect();
        let (name, argument, signature, default) = (parts[0], parts[1], parts[2], parts[3]);
        match functions
            .iter()
            .find(|(f, a, _)| *f == name && *a == argument)
        {
            Some(&(_, _, want)) => {
                seen.insert((name.to_string(), argument.to_string()));
                check(&format!("{signature} {argument}"), default, default, want);
            }
            None => uncovered.push(format!("{signature} {argument} DEFAULT {default}")),
        }
    }
    assert!(
        uncovered.is_empty(),
        "defaults with no entry in defaults_match_the_catalog (and src/defaults.rs): {uncovered:?}"
    );
    let stale: Vec<String> = functions
        .iter()
        .filter(|(f, a, _)| !seen.contains(&(f.to_string(), a.to_string())))
        .map(|(f, a, _)| format!("{f}({a})"))
        .collect();
    assert!(stale.is_empty(), "listed defaults the catalog does not have: {stale:?}");

    // the options of a tier view, with the setting unset (class8_lang is the setting, else its
    // default)
    Spi::run("SET LOCAL customer_tiers.language = ''").unwrap();
    Spi::run("CREATE TEMP TABLE view_defaults AS SELECT tiers.tier_view_options('{}') AS o")
        .unwrap();
    let keys: Vec<Option<String>> = one(
        "SELECT coalesce(array_agg(k ORDER BY k), '{}') FROM view_defaults, jsonb_object_keys(o) k",
    );
    let keys: BTreeSet<String> = keys.into_iter().flatten().collect();
    let listed: BTreeSet<String> = options.iter().map(|(k, _)| k.to_string()).collect();
    assert_eq!(keys, listed, "the defaults of tiers.tier_view_options");
    for &(key, want) in options {
        let json_type = match want {
            Float(_) | Int(_) => "number",
            Text(_) | Interval(..) => "string",
            Bool(_) => "boolean",
            Null | Json(_) | Expr(_) => "null",
        };
        let (typ, text): (String, String) = Spi::connect(|client| {
            let row = client
                .select(
                    &format!(
                        "SELECT jsonb_typeof(o -> '{key}'), coalesce(o ->> '{key}', 'NULL') \
                         FROM view_defaults"
                    ),
                    None,
                    &[],
                )
                .unwrap()
                .first();
            (row.get(1).unwrap().unwrap(), row.get(2).unwrap().unwrap())
        });
        assert_eq!(typ, json_type, "option {key}: {text}");
        check(
            &format!("option {key}"),
            &format!("(SELECT o ->> '{key}' FROM view_defaults)"),
            &text,
            want,
        );
    }
}
