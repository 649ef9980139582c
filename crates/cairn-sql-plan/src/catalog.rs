//! Schema objects as the planner sees them: tables, their columns, indexes and constraints,
//! and the [`Catalog`] trait through which the binder looks names up.
//!
//! Role: `cairn-sql-exec` stores these descriptors in system tables in the key space (inside
//! the user's transaction, which is what makes DDL transactional) and implements [`Catalog`]
//! over that transaction; the binder only reads through the trait, so this crate does no I/O.
//!
//! Invariants:
//! 1. Column ids and index ids are never reused within a table: a dropped column's id stays
//!    retired (`next_column_id` only grows), so an old row's value for a dropped column can
//!    never be read as a newer column's. Test (exec): `add_column_after_drop_reads_null`.
//! 2. Every table has a primary index with `IndexDef::id == PRIMARY_INDEX_ID`; a table declared
//!    without a primary key gets a hidden `rowid` column as its key.
//! 3. `columns` keeps declaration order, which is the order of `SELECT *`.
//! 4. Foreign keys are stored on the referencing table (`TableDef::foreign_keys`, by column
//!    and table ids, so renames never break them); the referenced table lists the referencing
//!    tables' ids in `TableDef::referenced_by`. Both descriptors are written in the same
//!    transaction by every DDL that adds or removes a foreign key (`cairn-sql-exec` `fk.rs`).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::stats::TableStats;
use crate::types::DataType;

/// The index id of every table's primary index.
pub const PRIMARY_INDEX_ID: u32 = 1;

/// The name of the hidden key column of tables without a declared primary key.
pub const ROWID_COLUMN: &str = "rowid";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColumnDef {
    pub id: u32,
    pub name: String,
    pub ty: DataType,
    pub nullable: bool,
    /// The DEFAULT expression as SQL text, bound again whenever it is used.
    pub default: Option<String>,
    /// Hidden columns (the implicit `rowid`) are left out of `SELECT *` and of INSERTs
    /// without a column list.
    pub hidden: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IndexColumn {
    pub column_id: u32,
    pub descending: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IndexDef {
    pub id: u32,
    pub name: String,
    pub columns: Vec<IndexColumn>,
    pub unique: bool,
    /// Made by a PRIMARY KEY or UNIQUE constraint rather than by CREATE [UNIQUE] INDEX, so
    /// the catalog lists a constraint for it (`pg_constraint`, psql's "UNIQUE CONSTRAINT").
    /// Descriptors written before this field existed read as `false`.
    #[serde(default)]
    pub constraint: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckDef {
    pub name: String,
    /// The CHECK expression as SQL text.
    pub expr: String,
}

/// What a foreign key does to referencing rows when the referenced key is deleted or updated
/// (`ON DELETE` / `ON UPDATE`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum FkAction {
    #[default]
    NoAction,
    Restrict,
    Cascade,
    SetNull,
    SetDefault,
}

impl FkAction {
    /// `pg_constraint.confupdtype` / `confdeltype`.
    pub fn pg_code(self) -> char {
        match self {
            FkAction::NoAction => 'a',
            FkAction::Restrict => 'r',
            FkAction::Cascade => 'c',
            FkAction::SetNull => 'n',
            FkAction::SetDefault => 'd',
        }
    }

    /// The SQL words (`information_schema.referential_constraints`, `pg_get_constraintdef`).
    pub fn sql(self) -> &'static str {
        match self {
            FkAction::NoAction => "NO ACTION",
            FkAction::Restrict => "RESTRICT",
            FkAction::Cascade => "CASCADE",
            FkAction::SetNull => "SET NULL",
            FkAction::SetDefault => "SET DEFAULT",
        }
    }
}

/// A FOREIGN KEY constraint, kept on the referencing table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ForeignKeyDef {
    pub name: String,
    /// Referencing column ids of this table, in declaration order.
    pub columns: Vec<u32>,
    /// The referenced table's id (may be this table).
    pub ref_table: u32,
    /// Referenced column ids, pairwise with `columns`.
    pub ref_columns: Vec<u32>,
    /// The referenced table's unique index over `ref_columns` (its primary index or a
    /// secondary unique one): checks look parents up through it, and it cannot be dropped
    /// while the constraint exists.
    pub ref_index: u32,
    pub on_delete: FkAction,
    pub on_update: FkAction,
    /// MATCH FULL (true) or MATCH SIMPLE (false, the default).
    pub match_full: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TableDef {
    pub id: u32,
    pub database_id: u32,
    pub schema: String,
    pub name: String,
    pub columns: Vec<ColumnDef>,
    /// The primary index (`id == PRIMARY_INDEX_ID`); its key columns are the primary key.
    pub primary: IndexDef,
    /// Secondary indexes.
    pub indexes: Vec<IndexDef>,
    pub checks: Vec<CheckDef>,
    pub next_column_id: u32,
    pub next_index_id: u32,
    /// Whether the primary key was declared (false: the key is the hidden rowid).
    pub has_declared_primary_key: bool,
    /// FOREIGN KEY constraints of this table (invariant 4). Descriptors written before
    /// foreign keys existed read as empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub foreign_keys: Vec<ForeignKeyDef>,
    /// Ids of the tables whose foreign keys reference this table, each once, in the order
    /// they were added (may include this table's own id).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub referenced_by: Vec<u32>,
}

impl TableDef {
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    pub fn column_by_id(&self, id: u32) -> Option<(usize, &ColumnDef)> {
        self.columns.iter().enumerate().find(|(_, c)| c.id == id)
    }

    /// Positions (in `columns`) of the primary key's columns, in key order.
    pub fn primary_key_positions(&self) -> Vec<usize> {
        self.primary
            .columns
            .iter()
            .filter_map(|ic| self.column_by_id(ic.column_id).map(|(i, _)| i))
            .collect()
    }

    /// The index with id `id` (the primary index or a secondary one).
    pub fn index_by_id(&self, id: u32) -> Option<&IndexDef> {
        if id == PRIMARY_INDEX_ID {
            Some(&self.primary)
        } else {
            self.indexes.iter().find(|i| i.id == id)
        }
    }

    /// Names of the visible columns, in declaration order.
    pub fn visible_columns(&self) -> impl Iterator<Item = (usize, &ColumnDef)> {
        self.columns.iter().enumerate().filter(|(_, c)| !c.hidden)
    }
}

/// A view: a stored query, bound again wherever the view is used.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ViewDef {
    pub id: u32,
    pub database_id: u32,
    pub schema: String,
    pub name: String,
    /// The defining query as SQL text.
    pub sql: String,
    /// Output column names (from the column list or the query).
    pub columns: Vec<String>,
}

/// Name lookup for the binder. Implemented by the executor over the current transaction.
pub trait Catalog {
    /// The table `schema.name` (`schema = None`: the search path), if it exists.
    fn table(&self, schema: Option<&str>, name: &str) -> Result<Option<Arc<TableDef>>>;

    /// The view `schema.name`, if it exists.
    fn view(&self, schema: Option<&str>, name: &str) -> Result<Option<Arc<ViewDef>>> {
        let _ = (schema, name);
        Ok(None)
    }

    /// The OID of the relation `schema.name` (table, index, sequence or catalog table), for
    /// `'name'::regclass`. The default knows tables only.
    fn relation_oid(&self, schema: Option<&str>, name: &str) -> Result<Option<u32>> {
        Ok(self.table(schema, name)?.map(|t| t.id))
    }

    /// The statistics of a table as of its last ANALYZE (`None`: never analysed, or the
    /// catalog keeps none). Column stats of dropped or retyped columns are already left out.
    fn table_stats(&self, table: &TableDef) -> Result<Option<Arc<TableStats>>> {
        let _ = table;
        Ok(None)
    }
}

/// A table for unit tests: `t{id}` with nullable columns `a` (id 1, int4, the primary key)
/// and `b` (id 2, of type `b_ty`), named `a{suffix}` and `b{suffix}`.
#[cfg(test)]
pub(crate) fn test_table(id: u32, suffix: &str, b_ty: DataType) -> Arc<TableDef> {
    let col = |cid: u32, name: &str, ty: DataType| ColumnDef {
        id: cid,
        name: format!("{name}{suffix}"),
        ty,
        nullable: true,
        default: None,
        hidden: false,
    };
    Arc::new(TableDef {
        id,
        database_id: 1,
        schema: "public".into(),
        name: format!("t{id}"),
        columns: vec![col(1, "a", DataType::Int4), col(2, "b", b_ty)],
        primary: IndexDef {
            id: PRIMARY_INDEX_ID,
            name: format!("t{id}_pkey"),
            columns: vec![IndexColumn {
                column_id: 1,
                descending: false,
            }],
            unique: true,
            constraint: true,
        },
        indexes: vec![],
        checks: vec![],
        next_column_id: 3,
        next_index_id: 2,
        has_declared_primary_key: true,
        foreign_keys: Vec::new(),
        referenced_by: Vec::new(),
    })
}
