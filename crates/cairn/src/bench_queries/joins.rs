//! The join-order workload of `cairn bench queries`: 3- to 8-way inner joins over the
//! skewed snowflake of `gen::join_tables`, and the forced-order alternatives used to judge
//! the order Cairn picks.
//!
//! Role: `bench_queries::run` creates [`SCHEMA`] and [`INDEXES`], loads, analyses, times
//! each query's [`JoinQuery::sql`] on both systems, then times [`JoinQuery::forced_sql`] on
//! Cairn for each order of [`JoinQuery::alternatives`].
//!
//! How an order is forced: each prefix of the order is a derived table
//! `(SELECT * FROM prev, next WHERE ... OFFSET 0) dN`. Cairn's join planner treats anything
//! that is not an inner join (here a `Plan::Rename` over a `Plan::Limit`) as one leaf
//! relation (`cairn-sql-plan/src/join_order.rs`, `Region::flatten`), so it can only choose
//! the build side of each two-way join, never the sequence; `OFFSET 0` also keeps
//! PostgreSQL from pulling the subquery up. Column names carry a per-table prefix, so
//! `SELECT *` in the derived tables never makes a name ambiguous.
//!
//! Invariants:
//! 1. Every alternative is a permutation of the query's relations in which each relation
//!    after the first is linked by a predicate to one before it (no cross products).
//!    Test: `tests::alternatives_are_connected_permutations`.
//! 2. A forced-order query returns the same rows as the query (same predicates, same
//!    select list); the runner checks this and reports a mismatch.

/// Tables of the join workload, in load order.
pub const SCHEMA: &[&str] = &[
    "CREATE TABLE j_dept (d_id integer PRIMARY KEY, d_name varchar(20) NOT NULL)",
    "CREATE TABLE j_category (ca_id integer PRIMARY KEY, ca_dept_id integer NOT NULL, ca_name varchar(20) NOT NULL)",
    "CREATE TABLE j_product (p_id integer PRIMARY KEY, p_category_id integer NOT NULL, p_price integer NOT NULL)",
    "CREATE TABLE j_country (co_id integer PRIMARY KEY, co_name varchar(20) NOT NULL, co_region integer NOT NULL)",
    "CREATE TABLE j_city (ci_id integer PRIMARY KEY, ci_country_id integer NOT NULL, ci_size integer NOT NULL)",
    "CREATE TABLE j_customer (cu_id integer PRIMARY KEY, cu_city_id integer NOT NULL, cu_segment integer NOT NULL)",
    "CREATE TABLE j_store (st_id integer PRIMARY KEY, st_city_id integer NOT NULL, st_kind integer NOT NULL)",
    "CREATE TABLE j_order (or_id integer PRIMARY KEY, or_customer_id integer NOT NULL, or_store_id integer NOT NULL, or_day integer NOT NULL)",
    "CREATE TABLE j_item (it_id integer PRIMARY KEY, it_order_id integer NOT NULL, it_product_id integer NOT NULL, it_qty integer NOT NULL)",
];

/// An index on every foreign-key column.
pub const INDEXES: &[&str] = &[
    "CREATE INDEX j_category_dept ON j_category (ca_dept_id)",
    "CREATE INDEX j_product_category ON j_product (p_category_id)",
    "CREATE INDEX j_city_country ON j_city (ci_country_id)",
    "CREATE INDEX j_customer_city ON j_customer (cu_city_id)",
    "CREATE INDEX j_store_city ON j_store (st_city_id)",
    "CREATE INDEX j_order_customer ON j_order (or_customer_id)",
    "CREATE INDEX j_order_store ON j_order (or_store_id)",
    "CREATE INDEX j_item_order ON j_item (it_order_id)",
    "CREATE INDEX j_item_product ON j_item (it_product_id)",
];

/// Foreign-key links: (child table, child column, parent table, parent column).
const LINKS: &[(&str, &str, &str, &str)] = &[
    ("j_category", "ca_dept_id", "j_dept", "d_id"),
    ("j_product", "p_category_id", "j_category", "ca_id"),
    ("j_city", "ci_country_id", "j_country", "co_id"),
    ("j_customer", "cu_city_id", "j_city", "ci_id"),
    ("j_store", "st_city_id", "j_city", "ci_id"),
    ("j_order", "or_customer_id", "j_customer", "cu_id"),
    ("j_order", "or_store_id", "j_store", "st_id"),
    ("j_item", "it_order_id", "j_order", "or_id"),
    ("j_item", "it_product_id", "j_product", "p_id"),
];

/// One join query: its relations in written (FROM) order, a filter per relation (or none),
/// and the select list (aggregates, so results are small and order-free).
pub struct JoinQuery {
    pub name: &'static str,
    pub tables: &'static [&'static str],
    pub filters: &'static [(&'static str, &'static str)],
    pub select: &'static str,
    pub group_by: Option<&'static str>,
}

pub const QUERIES: &[JoinQuery] = &[
    JoinQuery {
        name: "j1",
        tables: &["j_item", "j_product", "j_category"],
        filters: &[("j_category", "ca_dept_id = 3")],
        select: "count(*), sum(it_qty)",
        group_by: None,
    },
    JoinQuery {
        name: "j2",
        tables: &["j_order", "j_customer", "j_city"],
        filters: &[("j_city", "ci_size = 1")],
        select: "ci_country_id, count(*)",
        group_by: Some("ci_country_id"),
    },
    JoinQuery {
        name: "j3",
        tables: &["j_item", "j_order", "j_customer", "j_city"],
        filters: &[("j_city", "ci_country_id = 1")],
        select: "count(*), sum(it_qty)",
        group_by: None,
    },
    JoinQuery {
        name: "j4",
        tables: &["j_item", "j_order", "j_store", "j_city"],
        filters: &[("j_store", "st_kind = 2"), ("j_city", "ci_size > 8")],
        select: "st_kind, count(*), sum(it_qty)",
        group_by: Some("st_kind"),
    },
    JoinQuery {
        name: "j5",
        tables: &["j_item", "j_order", "j_customer", "j_city", "j_country"],
        filters: &[("j_country", "co_region = 2"), ("j_order", "or_day < 100")],
        select: "co_region, count(*), sum(it_qty)",
        group_by: Some("co_region"),
    },
    JoinQuery {
        name: "j6",
        tables: &["j_item", "j_product", "j_category", "j_dept", "j_order"],
        filters: &[
            ("j_dept", "d_name = 'dept7'"),
            ("j_order", "or_day BETWEEN 500 AND 510"),
        ],
        select: "count(*), sum(it_qty)",
        group_by: None,
    },
    JoinQuery {
        name: "j7",
        tables: &[
            "j_country",
            "j_city",
            "j_customer",
            "j_order",
            "j_item",
            "j_product",
        ],
        filters: &[("j_country", "co_id = 50"), ("j_product", "p_price < 100")],
        select: "count(*), sum(it_qty)",
        group_by: None,
    },
    JoinQuery {
        name: "j8",
        tables: &[
            "j_item",
            "j_order",
            "j_store",
            "j_city",
            "j_country",
            "j_product",
        ],
        filters: &[
            ("j_country", "co_region = 1"),
            ("j_product", "p_category_id = 1"),
        ],
        select: "count(*), sum(it_qty)",
        group_by: None,
    },
    JoinQuery {
        name: "j9",
        tables: &[
            "j_item",
            "j_order",
            "j_customer",
            "j_city",
            "j_country",
            "j_product",
            "j_category",
        ],
        filters: &[
            ("j_country", "co_region = 0"),
            ("j_category", "ca_dept_id = 1"),
            ("j_customer", "cu_segment < 3"),
        ],
        select: "count(*), sum(it_qty)",
        group_by: None,
    },
    JoinQuery {
        name: "j10",
        tables: &[
            "j_item",
            "j_order",
            "j_customer",
            "j_city",
            "j_country",
            "j_product",
            "j_category",
            "j_dept",
        ],
        filters: &[
            ("j_dept", "d_name = 'dept2'"),
            ("j_country", "co_id = 3"),
            ("j_order", "or_day < 500"),
        ],
        select: "count(*), sum(it_qty)",
        group_by: None,
    },
];

/// The predicate linking `a` and `b`, if one references the other.
fn link(a: &str, b: &str) -> Option<String> {
    LINKS
        .iter()
        .find(|(c, _, p, _)| (*c == a && *p == b) || (*c == b && *p == a))
        .map(|(_, cc, _, pc)| format!("{cc} = {pc}"))
}

/// Estimated base rows of a table at scale factor 1 (for ordering the alternatives).
fn base_rows(table: &str) -> u64 {
    match table {
        "j_dept" => 10,
        "j_category" => 200,
        "j_country" => 50,
        "j_city" => 1_000,
        "j_store" => 2_000,
        "j_product" => 100_000,
        "j_customer" => 200_000,
        "j_order" => 1_000_000,
        _ => 3_000_000,
    }
}

impl JoinQuery {
    fn filter_of(&self, table: &str) -> Option<&'static str> {
        self.filters
            .iter()
            .find(|(t, _)| *t == table)
            .map(|(_, f)| *f)
    }

    fn tail(&self) -> String {
        match self.group_by {
            Some(g) => format!(" GROUP BY {g} ORDER BY {g}"),
            None => String::new(),
        }
    }

    /// The predicates joining `next` to the relations in `before`, plus `next`'s filter.
    fn conjuncts_for(&self, before: &[&str], next: &str) -> Vec<String> {
        let mut out: Vec<String> = before.iter().filter_map(|b| link(b, next)).collect();
        out.extend(self.filter_of(next).map(str::to_string));
        out
    }

    /// The query as written: FROM in `tables` order, all conditions in WHERE.
    pub fn sql(&self) -> String {
        let mut conds = Vec::new();
        for (i, t) in self.tables.iter().enumerate() {
            conds.extend(self.conjuncts_for(&self.tables[..i], t));
        }
        format!(
            "SELECT {} FROM {} WHERE {}{}",
            self.select,
            self.tables.join(", "),
            conds.join(" AND "),
            self.tail()
        )
    }

    /// The query with its joins forced into `order` (indexes into `tables`) by nesting each
    /// prefix in a derived table with `OFFSET 0` (module header).
    pub fn forced_sql(&self, order: &[usize]) -> String {
        let names: Vec<&str> = order.iter().map(|&i| self.tables[i]).collect();
        let first = names[0];
        let mut from = first.to_string();
        let mut conds: Vec<String> = self
            .filter_of(first)
            .map(str::to_string)
            .into_iter()
            .collect();
        for k in 1..names.len() {
            conds.extend(self.conjuncts_for(&names[..k], names[k]));
            let where_ = if conds.is_empty() {
                String::new()
            } else {
                format!(" WHERE {}", conds.join(" AND "))
            };
            if k + 1 == names.len() {
                return format!(
                    "SELECT {} FROM {from}, {}{where_}{}",
                    self.select,
                    names[k],
                    self.tail()
                );
            }
            from = format!("(SELECT * FROM {from}, {}{where_} OFFSET 0) d{k}", names[k]);
            conds.clear();
        }
        format!("SELECT {} FROM {from}{}", self.select, self.tail())
    }

    /// Up to `max` join orders to time against the chosen plan, deterministic: the written
    /// order, then for each starting relation (filtered ones first) the greedy connected
    /// order that prefers filtered relations, then smaller tables.
    pub fn alternatives(&self, max: usize) -> Vec<Vec<usize>> {
        let n = self.tables.len();
        let mut out: Vec<Vec<usize>> = vec![(0..n).collect()];
        let mut starts: Vec<usize> = (0..n).collect();
        starts.sort_by_key(|&i| {
            (
                self.filter_of(self.tables[i]).is_none(),
                base_rows(self.tables[i]),
            )
        });
        for s in starts {
            let mut order = vec![s];
            while order.len() < n {
                let placed: Vec<&str> = order.iter().map(|&i| self.tables[i]).collect();
                let next = (0..n)
                    .filter(|i| !order.contains(i))
                    .filter(|&i| placed.iter().any(|p| link(p, self.tables[i]).is_some()))
                    .min_by_key(|&i| {
                        (
                            self.filter_of(self.tables[i]).is_none(),
                            base_rows(self.tables[i]),
                        )
                    });
                match next {
                    Some(i) => order.push(i),
                    None => break,
                }
            }
            if order.len() == n && !out.contains(&order) {
                out.push(order);
            }
        }
        out.truncate(max.max(1));
        out
    }

    /// An order as table names joined by `>`.
    pub fn order_text(&self, order: &[usize]) -> String {
        order
            .iter()
            .map(|&i| self.tables[i].trim_start_matches("j_"))
            .collect::<Vec<_>>()
            .join(">")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alternatives_are_connected_permutations() {
        for q in QUERIES {
            assert!((3..=8).contains(&q.tables.len()), "{}", q.name);
            let alts = q.alternatives(8);
            assert!(alts.len() >= 2, "{}: {alts:?}", q.name);
            for order in &alts {
                let mut sorted = order.clone();
                sorted.sort_unstable();
                assert_eq!(
                    sorted,
                    (0..q.tables.len()).collect::<Vec<_>>(),
                    "{}",
                    q.name
                );
                for k in 1..order.len() {
                    let linked = order[..k]
                        .iter()
                        .any(|&b| link(q.tables[b], q.tables[order[k]]).is_some());
                    assert!(linked, "{}: {order:?} step {k}", q.name);
                }
            }
        }
    }

    #[test]
    fn join_queries_parse() {
        for q in QUERIES {
            for sql in
                std::iter::once(q.sql()).chain(q.alternatives(8).iter().map(|o| q.forced_sql(o)))
            {
                let stmts =
                    cairn_sql_plan::parse(&sql).map_err(|e| format!("{}: {e}: {sql}", q.name));
                assert_eq!(stmts.map(|s| s.len()), Ok(1), "{}", q.name);
            }
        }
        for sql in SCHEMA.iter().chain(INDEXES) {
            assert!(cairn_sql_plan::parse(sql).is_ok(), "{sql}");
        }
    }
}
