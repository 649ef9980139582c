//! The bound and optimised plan of a prepared statement, kept between its executions.
//!
//! Role: [`crate::session::Session`] binds a prepared query or DML statement at its first
//! execution, stores the optimised [`Bound`] in the statement's [`PlanSlot`], and runs later
//! executions from it with the new parameter values (plans refer to parameters as
//! `Expr::Param`, so nothing is substituted into the plan itself). Like PostgreSQL's plan
//! cache, a schema change makes the next execution bind again; if the statement's result
//! columns then differ from those its Parse described, the execution fails with 0A000
//! "cached plan must not change result type", as PostgreSQL's does.
//!
//! Invariants:
//! 1. A plan is used only by a statement that reads the same catalog generation it was bound at
//!    (catalog.rs invariant 3: same generation, same catalog) and the same statistics
//!    generation it was optimised at (ANALYZE raises it, so plans follow new statistics as
//!    PostgreSQL's re-plan after ANALYZE) with the same session settings
//!    (the binder folds `current_setting()`), in a transaction that has not changed the
//!    catalog itself. Tests: `tests/pg/clients.rs`
//!    `prepared_statements_follow_schema_changes_like_postgres`,
//!    `prepared_statement_sees_settings_changes`.
//! 2. Using a plan reports the catalog keys its binding read to the transaction's read set,
//!    so SERIALIZABLE conflicts with DDL are those of binding again (catalog_cache.rs
//!    invariant 3). A binding whose reads cannot be replayed (a range scan) is not stored.
//!
//! Concurrency: a prepared statement belongs to one session, but the protocol layer keeps it
//! in an `Arc` that must be `Sync`, so the slot is a `Mutex`, never contended.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use cairn_sql_plan::plan::Bound;

/// One stored plan and what it is valid for (invariant 1).
pub struct CachedPlan {
    pub catalog_generation: u64,
    pub stats_generation: u64,
    pub settings: BTreeMap<String, String>,
    /// Optimised, ready to run.
    pub bound: Arc<Bound>,
    /// Catalog keys the binding read (invariant 2).
    pub read_keys: Vec<Vec<u8>>,
}

/// Where a prepared statement keeps its plan. Cloning a statement gives the clone an empty
/// slot.
#[derive(Default)]
pub struct PlanSlot {
    plan: Mutex<Option<Arc<CachedPlan>>>,
}

impl PlanSlot {
    /// The stored plan, if it is valid for the catalog and statistics generations and
    /// `settings`.
    pub fn get(
        &self,
        (catalog_generation, stats_generation): (u64, u64),
        settings: &BTreeMap<String, String>,
    ) -> Option<Arc<CachedPlan>> {
        // A poisoned lock (a panic while held) counts as an empty slot.
        let p = self.plan.lock().ok()?;
        p.as_ref()
            .filter(|p| {
                p.catalog_generation == catalog_generation
                    && p.stats_generation == stats_generation
                    && p.settings == *settings
            })
            .cloned()
    }

    /// The catalog and statistics generations of the stored plan (for tests and debugging).
    pub fn planned_at(&self) -> Option<(u64, u64)> {
        let p = self.plan.lock().ok()?;
        p.as_ref()
            .map(|p| (p.catalog_generation, p.stats_generation))
    }

    pub fn set(&self, plan: CachedPlan) {
        if let Ok(mut p) = self.plan.lock() {
            *p = Some(Arc::new(plan));
        }
    }

    /// Whether a plan is stored (for tests and debugging).
    pub fn is_filled(&self) -> bool {
        self.plan.lock().map(|p| p.is_some()).unwrap_or(false)
    }
}

impl Clone for PlanSlot {
    fn clone(&self) -> Self {
        PlanSlot::default()
    }
}

impl fmt::Debug for PlanSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlanSlot")
            .field("filled", &self.is_filled())
            .finish()
    }
}
