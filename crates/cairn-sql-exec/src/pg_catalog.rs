//! PostgreSQL's system catalogs as read-only virtual tables (`pg_catalog.pg_class`,
//! `pg_attribute`, `pg_index`, ..., and `information_schema.tables`, `columns`, ...), computed
//! per statement from the descriptors the statement's transaction sees, plus the catalog
//! functions that need them (`pg_get_indexdef`, `pg_table_is_visible`, `regclass` output, ...).
//!
//! Role: [`lookup`] gives `TxnCatalog` the `TableDef` of a catalog table (schema
//! `pg_catalog`, which is searched before `public` for unqualified names as in PostgreSQL, or
//! `information_schema`); the executor's scan of such a table calls [`scan`], and
//! `call_host` of a catalog function calls [`call`]. Both read a [`Snapshot`]: the databases,
//! tables, sequences and roles read once per statement through the statement's `KvTxn`, so
//! the catalog is transactional like everything else (an uncommitted CREATE TABLE is visible
//! to its own transaction only). Nothing here writes.
//!
//! OID scheme (also `docs/sql-catalog.md`). PostgreSQL's OIDs are unique per catalog, so
//! each kind of object gets a range that cannot collide with the others of its catalog:
//!
//! ```text
//! databases, tables, sequences   descriptor id (from 100 up; also RowDescription's table OID)
//! catalog tables and views       CATALOG_RELATION_OID_BASE (2^30) + position in TABLES
//! indexes (pg_class)             2^31 + table_id * 2^10 + index_id      (index_id < 2^9)
//! PK/UNIQUE constraints          the OID of their index
//! CHECK constraints              2^31 + table_id * 2^10 + 2^9 + k       (k-th CHECK, k < 2^8)
//! FOREIGN KEY constraints        2^31 + table_id * 2^10 + 2^9 + 2^8 + k (k-th FK, k < 2^8)
//! column defaults (pg_attrdef)   2^31 + table_id * 2^10 + column_id     (column_id < 2^10)
//! schemas                        pg_catalog 11, public 2200, information_schema 13207
//! types                          PostgreSQL's type OIDs (`DataType::oid`)
//! roles                          postgres 10, pg_database_owner 6171, others: FNV-1a of the
//!                                name folded into [16384, 2^30)
//! ```
//!
//! The derived OIDs need `table_id < 2^21`; objects of a table beyond that (two million
//! descriptors) are left out of the catalog rather than given colliding OIDs.
//!
//! Invariants:
//! 1. Catalog tables are never written: INSERT/UPDATE/DELETE/COPY FROM on one fails with
//!    42809 before anything is written ([`check_writable`]), and DDL does not find them
//!    (42P01). Test: `tests/pg/catalog.rs` `catalog_tables_are_read_only`.
//! 2. Within one statement every catalog table and function reads the same snapshot (built
//!    once, cached in the statement cache), so a join of `pg_class` with `pg_index` is
//!    consistent. Test: `tests/pg/sql_session.rs` `catalog_sees_own_transaction_ddl`.
//! 3. No OID is shared by two rows of one catalog (the scheme above); a table whose objects
//!    cannot get an OID has those objects omitted. Test: `oids_do_not_collide`.
//! 4. No secrets: `pg_authid.rolpassword` is NULL and `pg_roles.rolpassword` is `********`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::{Arc, OnceLock};

use cairn_sql_plan::bind::Binder;
use cairn_sql_plan::catalog::{ForeignKeyDef, IndexDef, TableDef, ViewDef, PRIMARY_INDEX_ID};
use cairn_sql_plan::deparse;
use cairn_sql_plan::expr::{Expr, PgFunc};
use cairn_sql_plan::plan::Bound;
use cairn_sql_plan::systypes::{namespace, type_entries, SysType, TypeEntry};
use cairn_sql_plan::types::{DataType, Value};
use cairn_sql_plan::{code, Result, SqlError};

use cairn_sql_plan::stats::TableStats;

use crate::auto_analyze::TableActivity;
use crate::catalog::{self, DatabaseDesc, Descriptor, RoleDesc, SequenceDesc, TxnCatalog};
use crate::exec::{ExecCtx, Row};

/// OID of the first catalog table (see the scheme in the module header).
pub const CATALOG_RELATION_OID_BASE: u32 = 1 << 30;
/// Derived OIDs (indexes, constraints, defaults) start here.
pub const DERIVED_OID_BASE: u32 = 1 << 31;
/// Bits of a derived OID below the table id.
const SUB_ID_BITS: u32 = 10;
/// Table ids must be below this for derived OIDs.
const TABLE_ID_LIMIT: u32 = 1 << 21;
/// CHECK constraints use the third quarter of the sub-id space.
const CHECK_SUB_ID_BASE: u32 = 1 << 9;
/// FOREIGN KEY constraints use the last quarter of the sub-id space.
const FK_SUB_ID_BASE: u32 = (1 << 9) + (1 << 8);

/// The bootstrap superuser's OID.
pub const SUPERUSER_OID: u32 = 10;
/// PostgreSQL's predefined role owning `public` (`\dn` shows it).
pub const DATABASE_OWNER_ROLE_OID: u32 = 6171;
const DEFAULT_TABLESPACE_OID: u32 = 1663;
const BTREE_AM_OID: u32 = 403;
const HEAP_AM_OID: u32 = 2;
/// The default collation (`pg_collation`), used by collatable columns.
const DEFAULT_COLLATION_OID: u32 = 100;
const C_COLLATION_OID: u32 = 950;
/// `pg_database.encoding` for UTF8.
const UTF8_ENCODING: i64 = 6;

// The ranges of the scheme do not meet (invariant 3), checked when compiling.
const _: () = assert!(TABLE_ID_LIMIT < CATALOG_RELATION_OID_BASE);
const _: () = assert!(CATALOG_RELATION_OID_BASE + (TABLES.len() as u32) < DERIVED_OID_BASE);
const _: () = assert!(((TABLE_ID_LIMIT - 1) << SUB_ID_BITS) < u32::MAX - DERIVED_OID_BASE);

fn derived_oid(table_id: u32, sub_id: u32) -> Option<u32> {
    (table_id < TABLE_ID_LIMIT && sub_id < (1 << SUB_ID_BITS))
        .then(|| DERIVED_OID_BASE + (table_id << SUB_ID_BITS) + sub_id)
}

/// The OID of index `index_id` of table `table_id` (`None` outside the scheme's range).
pub fn index_oid(table_id: u32, index_id: u32) -> Option<u32> {
    if index_id >= CHECK_SUB_ID_BASE {
        return None;
    }
    derived_oid(table_id, index_id)
}

/// The OID of the `k`-th CHECK constraint of a table.
pub fn check_oid(table_id: u32, k: usize) -> Option<u32> {
    let k = u32::try_from(k)
        .ok()
        .filter(|k| *k < FK_SUB_ID_BASE - CHECK_SUB_ID_BASE)?;
    derived_oid(table_id, CHECK_SUB_ID_BASE + k)
}

/// The OID of the `k`-th FOREIGN KEY constraint of a table.
pub fn fk_oid(table_id: u32, k: usize) -> Option<u32> {
    let k = u32::try_from(k)
        .ok()
        .filter(|k| *k < (1 << SUB_ID_BITS) - FK_SUB_ID_BASE)?;
    derived_oid(table_id, FK_SUB_ID_BASE + k)
}

/// The OID of a column default (`pg_attrdef.oid`).
pub fn attrdef_oid(table_id: u32, column_id: u32) -> Option<u32> {
    derived_oid(table_id, column_id)
}

/// A role's OID (see the scheme).
pub fn role_oid(name: &str) -> u32 {
    match name {
        "postgres" => SUPERUSER_OID,
        "pg_database_owner" => DATABASE_OWNER_ROLE_OID,
        _ => {
            let mut h: u32 = 0x811c_9dc5;
            for b in name.bytes() {
                h ^= b as u32;
                h = h.wrapping_mul(0x0100_0193);
            }
            16384 + h % (CATALOG_RELATION_OID_BASE - 16384)
        }
    }
}

// ----- the catalog tables -----

/// A catalog column's type: a plain type, or an array of one (`DataType::Array` holds a
/// `Box`, so it cannot be a constant itself).
#[derive(Clone, Debug)]
enum ColType {
    Plain(DataType),
    Array(DataType),
}

impl ColType {
    fn data_type(&self) -> DataType {
        match self {
            ColType::Plain(t) => t.clone(),
            ColType::Array(t) => DataType::Array(Box::new(t.clone())),
        }
    }
}

const OID: ColType = ColType::Plain(DataType::Sys(SysType::Oid));
const NAME: ColType = ColType::Plain(DataType::Sys(SysType::Name));
const CHAR: ColType = ColType::Plain(DataType::Sys(SysType::Char));
const REGPROC: ColType = ColType::Plain(DataType::Sys(SysType::RegProc));
const REGTYPE: ColType = ColType::Plain(DataType::Sys(SysType::RegType));
const XID: ColType = ColType::Plain(DataType::Sys(SysType::Xid));
const INT2VECTOR: ColType = ColType::Plain(DataType::Sys(SysType::Int2Vector));
const OIDVECTOR: ColType = ColType::Plain(DataType::Sys(SysType::OidVector));
const NODE_TREE: ColType = ColType::Plain(DataType::Sys(SysType::PgNodeTree));
const BOOL: ColType = ColType::Plain(DataType::Bool);
const BYTEA: ColType = ColType::Plain(DataType::Bytea);
const INT2: ColType = ColType::Plain(DataType::Int2);
const INT4: ColType = ColType::Plain(DataType::Int4);
const INT8: ColType = ColType::Plain(DataType::Int8);
const FLOAT4: ColType = ColType::Plain(DataType::Float4);
const TEXT: ColType = ColType::Plain(DataType::Text);
const TIMESTAMPTZ: ColType = ColType::Plain(DataType::Timestamptz(None));
const ACLS: ColType = ColType::Array(DataType::Sys(SysType::AclItem));
const TEXTS: ColType = ColType::Array(DataType::Text);
const INT2S: ColType = ColType::Array(DataType::Int2);
const OIDS: ColType = ColType::Array(DataType::Sys(SysType::Oid));
const CHARS: ColType = ColType::Array(DataType::Sys(SysType::Char));
const FLOAT4S: ColType = ColType::Array(DataType::Float4);
/// `anyarray` (`attmissingval`, always NULL here): typed text.
const ANYARRAY: ColType = ColType::Plain(DataType::Text);
/// information_schema's domains, as their base types.
const SQL_IDENTIFIER: ColType = ColType::Plain(DataType::Sys(SysType::Name));
const CARDINAL_NUMBER: ColType = ColType::Plain(DataType::Int4);
const CHARACTER_DATA: ColType = ColType::Plain(DataType::Varchar(None));
const YES_OR_NO: ColType = ColType::Plain(DataType::Varchar(Some(3)));

type Columns = &'static [(&'static str, ColType)];

/// Positions of `pg_constraint.confrelid` (followed by confupdtype, confdeltype,
/// confmatchtype) and `confkey` in its rows.
const PG_CONSTRAINT_CONFRELID: usize = 11;
/// pg_class's `relhastriggers`: true for a table with foreign keys, either side (PostgreSQL
/// implements them with triggers, and psql's `\d` prints foreign keys only when it is set).
const PG_CLASS_RELHASTRIGGERS: usize = 20;
const PG_CONSTRAINT_CONFKEY: usize = 19;

/// Which rows a catalog table has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Class,
    Namespace,
    Attribute,
    Type,
    Index,
    Constraint,
    Database,
    Roles,
    User,
    Authid,
    Am,
    Attrdef,
    Tablespace,
    Collation,
    Sequence,
    Settings,
    Opclass,
    Tables,
    Indexes,
    Sequences,
    Views,
    /// Only the dependencies clients look for: a SERIAL/IDENTITY sequence on its column.
    Depend,
    /// A catalog of things Cairn does not have (policies, publications, comments, ...).
    Empty,
    IsTables,
    IsColumns,
    IsSchemata,
    IsTableConstraints,
    IsKeyColumnUsage,
    IsReferentialConstraints,
    IsConstraintColumnUsage,
    /// `pg_stats` (pg_stats.rs).
    Stats,
    /// `pg_stat_user_tables` (pg_stats.rs).
    StatUserTables,
}

/// `(schema, name, kind, relkind, columns)` of every catalog table, in OID order.
const TABLES: &[(&str, &str, Kind, char, Columns)] = &[
    (
        "pg_catalog",
        "pg_class",
        Kind::Class,
        'r',
        &[
            ("oid", OID),
            ("relname", NAME),
            ("relnamespace", OID),
            ("reltype", OID),
            ("reloftype", OID),
            ("relowner", OID),
            ("relam", OID),
            ("relfilenode", OID),
            ("reltablespace", OID),
            ("relpages", INT4),
            ("reltuples", FLOAT4),
            ("relallvisible", INT4),
            ("reltoastrelid", OID),
            ("relhasindex", BOOL),
            ("relisshared", BOOL),
            ("relpersistence", CHAR),
            ("relkind", CHAR),
            ("relnatts", INT2),
            ("relchecks", INT2),
            ("relhasrules", BOOL),
            ("relhastriggers", BOOL),
            ("relhassubclass", BOOL),
            ("relrowsecurity", BOOL),
            ("relforcerowsecurity", BOOL),
            ("relispopulated", BOOL),
            ("relreplident", CHAR),
            ("relispartition", BOOL),
            ("relrewrite", OID),
            ("relfrozenxid", XID),
            ("relminmxid", XID),
            ("relacl", ACLS),
            ("reloptions", TEXTS),
            ("relpartbound", NODE_TREE),
        ],
    ),
    (
        "pg_catalog",
        "pg_namespace",
        Kind::Namespace,
        'r',
        &[
            ("oid", OID),
            ("nspname", NAME),
            ("nspowner", OID),
            ("nspacl", ACLS),
        ],
    ),
    (
        "pg_catalog",
        "pg_attribute",
        Kind::Attribute,
        'r',
        &[
            ("attrelid", OID),
            ("attname", NAME),
            ("atttypid", OID),
            ("attstattarget", INT4),
            ("attlen", INT2),
            ("attnum", INT2),
            ("attndims", INT4),
            ("attcacheoff", INT4),
            ("atttypmod", INT4),
            ("attbyval", BOOL),
            ("attalign", CHAR),
            ("attstorage", CHAR),
            ("attcompression", CHAR),
            ("attnotnull", BOOL),
            ("atthasdef", BOOL),
            ("atthasmissing", BOOL),
            ("attidentity", CHAR),
            ("attgenerated", CHAR),
            ("attisdropped", BOOL),
            ("attislocal", BOOL),
            ("attinhcount", INT4),
            ("attcollation", OID),
            ("attacl", ACLS),
            ("attoptions", TEXTS),
            ("attfdwoptions", TEXTS),
            ("attmissingval", ANYARRAY),
        ],
    ),
    (
        "pg_catalog",
        "pg_type",
        Kind::Type,
        'r',
        &[
            ("oid", OID),
            ("typname", NAME),
            ("typnamespace", OID),
            ("typowner", OID),
            ("typlen", INT2),
            ("typbyval", BOOL),
            ("typtype", CHAR),
            ("typcategory", CHAR),
            ("typispreferred", BOOL),
            ("typisdefined", BOOL),
            ("typdelim", CHAR),
            ("typrelid", OID),
            ("typsubscript", REGPROC),
            ("typelem", OID),
            ("typarray", OID),
            ("typinput", REGPROC),
            ("typoutput", REGPROC),
            ("typreceive", REGPROC),
            ("typsend", REGPROC),
            ("typmodin", REGPROC),
            ("typmodout", REGPROC),
            ("typanalyze", REGPROC),
            ("typalign", CHAR),
            ("typstorage", CHAR),
            ("typnotnull", BOOL),
            ("typbasetype", OID),
            ("typtypmod", INT4),
            ("typndims", INT4),
            ("typcollation", OID),
            ("typdefaultbin", NODE_TREE),
            ("typdefault", TEXT),
            ("typacl", ACLS),
        ],
    ),
    (
        "pg_catalog",
        "pg_index",
        Kind::Index,
        'r',
        &[
            ("indexrelid", OID),
            ("indrelid", OID),
            ("indnatts", INT2),
            ("indnkeyatts", INT2),
            ("indisunique", BOOL),
            ("indnullsnotdistinct", BOOL),
            ("indisprimary", BOOL),
            ("indisexclusion", BOOL),
            ("indimmediate", BOOL),
            ("indisclustered", BOOL),
            ("indisvalid", BOOL),
            ("indcheckxmin", BOOL),
            ("indisready", BOOL),
            ("indislive", BOOL),
            ("indisreplident", BOOL),
            ("indkey", INT2VECTOR),
            ("indcollation", OIDVECTOR),
            ("indclass", OIDVECTOR),
            ("indoption", INT2VECTOR),
            ("indexprs", NODE_TREE),
            ("indpred", NODE_TREE),
        ],
    ),
    (
        "pg_catalog",
        "pg_constraint",
        Kind::Constraint,
        'r',
        &[
            ("oid", OID),
            ("conname", NAME),
            ("connamespace", OID),
            ("contype", CHAR),
            ("condeferrable", BOOL),
            ("condeferred", BOOL),
            ("convalidated", BOOL),
            ("conrelid", OID),
            ("contypid", OID),
            ("conindid", OID),
            ("conparentid", OID),
            ("confrelid", OID),
            ("confupdtype", CHAR),
            ("confdeltype", CHAR),
            ("confmatchtype", CHAR),
            ("conislocal", BOOL),
            ("coninhcount", INT4),
            ("connoinherit", BOOL),
            ("conkey", INT2S),
            ("confkey", INT2S),
            ("conpfeqop", OIDS),
            ("conppeqop", OIDS),
            ("conffeqop", OIDS),
            ("confdelsetcols", INT2S),
            ("conexclop", OIDS),
            ("conbin", NODE_TREE),
        ],
    ),
    (
        "pg_catalog",
        "pg_database",
        Kind::Database,
        'r',
        &[
            ("oid", OID),
            ("datname", NAME),
            ("datdba", OID),
            ("encoding", INT4),
            ("datlocprovider", CHAR),
            ("datistemplate", BOOL),
            ("datallowconn", BOOL),
            ("datconnlimit", INT4),
            ("datfrozenxid", XID),
            ("datminmxid", XID),
            ("dattablespace", OID),
            ("datcollate", TEXT),
            ("datctype", TEXT),
            ("daticulocale", TEXT),
            ("datcollversion", TEXT),
            ("datacl", ACLS),
        ],
    ),
    (
        "pg_catalog",
        "pg_roles",
        Kind::Roles,
        'v',
        &[
            ("rolname", NAME),
            ("rolsuper", BOOL),
            ("rolinherit", BOOL),
            ("rolcreaterole", BOOL),
            ("rolcreatedb", BOOL),
            ("rolcanlogin", BOOL),
            ("rolreplication", BOOL),
            ("rolconnlimit", INT4),
            ("rolpassword", TEXT),
            ("rolvaliduntil", TIMESTAMPTZ),
            ("rolbypassrls", BOOL),
            ("rolconfig", TEXTS),
            ("oid", OID),
        ],
    ),
    (
        "pg_catalog",
        "pg_user",
        Kind::User,
        'v',
        &[
            ("usename", NAME),
            ("usesysid", OID),
            ("usecreatedb", BOOL),
            ("usesuper", BOOL),
            ("userepl", BOOL),
            ("usebypassrls", BOOL),
            ("passwd", TEXT),
            ("valuntil", TIMESTAMPTZ),
            ("useconfig", TEXTS),
        ],
    ),
    (
        "pg_catalog",
        "pg_authid",
        Kind::Authid,
        'r',
        &[
            ("oid", OID),
            ("rolname", NAME),
            ("rolsuper", BOOL),
            ("rolinherit", BOOL),
            ("rolcreaterole", BOOL),
            ("rolcreatedb", BOOL),
            ("rolcanlogin", BOOL),
            ("rolreplication", BOOL),
            ("rolbypassrls", BOOL),
            ("rolconnlimit", INT4),
            ("rolpassword", TEXT),
            ("rolvaliduntil", TIMESTAMPTZ),
        ],
    ),
    (
        "pg_catalog",
        "pg_am",
        Kind::Am,
        'r',
        &[
            ("oid", OID),
            ("amname", NAME),
            ("amhandler", REGPROC),
            ("amtype", CHAR),
        ],
    ),
    (
        "pg_catalog",
        "pg_attrdef",
        Kind::Attrdef,
        'r',
        &[
            ("oid", OID),
            ("adrelid", OID),
            ("adnum", INT2),
            ("adbin", NODE_TREE),
        ],
    ),
    (
        "pg_catalog",
        "pg_description",
        Kind::Empty,
        'r',
        &[
            ("objoid", OID),
            ("classoid", OID),
            ("objsubid", INT4),
            ("description", TEXT),
        ],
    ),
    (
        "pg_catalog",
        "pg_shdescription",
        Kind::Empty,
        'r',
        &[("objoid", OID), ("classoid", OID), ("description", TEXT)],
    ),
    (
        "pg_catalog",
        "pg_inherits",
        Kind::Empty,
        'r',
        &[
            ("inhrelid", OID),
            ("inhparent", OID),
            ("inhseqno", INT4),
            ("inhdetachpending", BOOL),
        ],
    ),
    (
        "pg_catalog",
        "pg_partitioned_table",
        Kind::Empty,
        'r',
        &[
            ("partrelid", OID),
            ("partstrat", CHAR),
            ("partnatts", INT2),
            ("partdefid", OID),
            ("partattrs", INT2VECTOR),
            ("partclass", OIDVECTOR),
            ("partcollation", OIDVECTOR),
            ("partexprs", NODE_TREE),
        ],
    ),
    (
        "pg_catalog",
        "pg_settings",
        Kind::Settings,
        'v',
        &[
            ("name", TEXT),
            ("setting", TEXT),
            ("unit", TEXT),
            ("category", TEXT),
            ("short_desc", TEXT),
            ("extra_desc", TEXT),
            ("context", TEXT),
            ("vartype", TEXT),
            ("source", TEXT),
            ("min_val", TEXT),
            ("max_val", TEXT),
            ("enumvals", TEXTS),
            ("boot_val", TEXT),
            ("reset_val", TEXT),
            ("sourcefile", TEXT),
            ("sourceline", INT4),
            ("pending_restart", BOOL),
        ],
    ),
    (
        "pg_catalog",
        "pg_tablespace",
        Kind::Tablespace,
        'r',
        &[
            ("oid", OID),
            ("spcname", NAME),
            ("spcowner", OID),
            ("spcacl", ACLS),
            ("spcoptions", TEXTS),
        ],
    ),
    (
        "pg_catalog",
        "pg_collation",
        Kind::Collation,
        'r',
        &[
            ("oid", OID),
            ("collname", NAME),
            ("collnamespace", OID),
            ("collowner", OID),
            ("collprovider", CHAR),
            ("collisdeterministic", BOOL),
            ("collencoding", INT4),
            ("collcollate", TEXT),
            ("collctype", TEXT),
            ("colliculocale", TEXT),
            ("collversion", TEXT),
        ],
    ),
    (
        "pg_catalog",
        "pg_proc",
        Kind::Empty,
        'r',
        &[
            ("oid", OID),
            ("proname", NAME),
            ("pronamespace", OID),
            ("proowner", OID),
            ("prolang", OID),
            ("procost", FLOAT4),
            ("prorows", FLOAT4),
            ("provariadic", OID),
            ("prosupport", REGPROC),
            ("prokind", CHAR),
            ("prosecdef", BOOL),
            ("proleakproof", BOOL),
            ("proisstrict", BOOL),
            ("proretset", BOOL),
            ("provolatile", CHAR),
            ("proparallel", CHAR),
            ("pronargs", INT2),
            ("pronargdefaults", INT2),
            ("prorettype", OID),
            ("proargtypes", OIDVECTOR),
            ("proallargtypes", OIDS),
            ("proargmodes", CHARS),
            ("proargnames", TEXTS),
            ("proargdefaults", NODE_TREE),
            ("protrftypes", OIDS),
            ("prosrc", TEXT),
            ("probin", TEXT),
            ("prosqlbody", NODE_TREE),
            ("proconfig", TEXTS),
            ("proacl", ACLS),
        ],
    ),
    (
        "pg_catalog",
        "pg_sequence",
        Kind::Sequence,
        'r',
        &[
            ("seqrelid", OID),
            ("seqtypid", OID),
            ("seqstart", INT8),
            ("seqincrement", INT8),
            ("seqmax", INT8),
            ("seqmin", INT8),
            ("seqcache", INT8),
            ("seqcycle", BOOL),
        ],
    ),
    (
        "pg_catalog",
        "pg_range",
        Kind::Empty,
        'r',
        &[
            ("rngtypid", OID),
            ("rngsubtype", OID),
            ("rngmultitypid", OID),
            ("rngcollation", OID),
            ("rngsubopc", OID),
            ("rngcanonical", REGPROC),
            ("rngsubdiff", REGPROC),
        ],
    ),
    (
        "pg_catalog",
        "pg_enum",
        Kind::Empty,
        'r',
        &[
            ("oid", OID),
            ("enumtypid", OID),
            ("enumsortorder", FLOAT4),
            ("enumlabel", NAME),
        ],
    ),
    (
        "pg_catalog",
        "pg_opclass",
        Kind::Opclass,
        'r',
        &[
            ("oid", OID),
            ("opcmethod", OID),
            ("opcname", NAME),
            ("opcnamespace", OID),
            ("opcowner", OID),
            ("opcfamily", OID),
            ("opcintype", OID),
            ("opcdefault", BOOL),
            ("opckeytype", OID),
        ],
    ),
    (
        "pg_catalog",
        "pg_policy",
        Kind::Empty,
        'r',
        &[
            ("oid", OID),
            ("polname", NAME),
            ("polrelid", OID),
            ("polcmd", CHAR),
            ("polpermissive", BOOL),
            ("polroles", OIDS),
            ("polqual", NODE_TREE),
            ("polwithcheck", NODE_TREE),
        ],
    ),
    (
        "pg_catalog",
        "pg_statistic_ext",
        Kind::Empty,
        'r',
        &[
            ("oid", OID),
            ("stxrelid", OID),
            ("stxname", NAME),
            ("stxnamespace", OID),
            ("stxowner", OID),
            ("stxstattarget", INT4),
            ("stxkeys", INT2VECTOR),
            ("stxkind", CHARS),
            ("stxexprs", NODE_TREE),
        ],
    ),
    (
        "pg_catalog",
        "pg_publication",
        Kind::Empty,
        'r',
        &[
            ("oid", OID),
            ("pubname", NAME),
            ("pubowner", OID),
            ("puballtables", BOOL),
            ("pubinsert", BOOL),
            ("pubupdate", BOOL),
            ("pubdelete", BOOL),
            ("pubtruncate", BOOL),
            ("pubviaroot", BOOL),
        ],
    ),
    (
        "pg_catalog",
        "pg_publication_namespace",
        Kind::Empty,
        'r',
        &[("oid", OID), ("pnpubid", OID), ("pnnspid", OID)],
    ),
    (
        "pg_catalog",
        "pg_publication_rel",
        Kind::Empty,
        'r',
        &[
            ("oid", OID),
            ("prpubid", OID),
            ("prrelid", OID),
            ("prqual", NODE_TREE),
            ("prattrs", INT2VECTOR),
        ],
    ),
    (
        "pg_catalog",
        "pg_trigger",
        Kind::Empty,
        'r',
        &[
            ("oid", OID),
            ("tgrelid", OID),
            ("tgparentid", OID),
            ("tgname", NAME),
            ("tgfoid", OID),
            ("tgtype", INT2),
            ("tgenabled", CHAR),
            ("tgisinternal", BOOL),
            ("tgconstrrelid", OID),
            ("tgconstrindid", OID),
            ("tgconstraint", OID),
            ("tgdeferrable", BOOL),
            ("tginitdeferred", BOOL),
            ("tgnargs", INT2),
            ("tgattr", INT2VECTOR),
            ("tgargs", BYTEA),
            ("tgqual", NODE_TREE),
            ("tgoldtable", NAME),
            ("tgnewtable", NAME),
        ],
    ),
    (
        "pg_catalog",
        "pg_rewrite",
        Kind::Empty,
        'r',
        &[
            ("oid", OID),
            ("rulename", NAME),
            ("ev_class", OID),
            ("ev_type", CHAR),
            ("ev_enabled", CHAR),
            ("is_instead", BOOL),
            ("ev_qual", NODE_TREE),
            ("ev_action", NODE_TREE),
        ],
    ),
    (
        "pg_catalog",
        "pg_extension",
        Kind::Empty,
        'r',
        &[
            ("oid", OID),
            ("extname", NAME),
            ("extowner", OID),
            ("extnamespace", OID),
            ("extrelocatable", BOOL),
            ("extversion", TEXT),
            ("extconfig", OIDS),
            ("extcondition", TEXTS),
        ],
    ),
    (
        "pg_catalog",
        "pg_foreign_table",
        Kind::Empty,
        'r',
        &[("ftrelid", OID), ("ftserver", OID), ("ftoptions", TEXTS)],
    ),
    (
        "pg_catalog",
        "pg_depend",
        Kind::Depend,
        'r',
        &[
            ("classid", OID),
            ("objid", OID),
            ("objsubid", INT4),
            ("refclassid", OID),
            ("refobjid", OID),
            ("refobjsubid", INT4),
            ("deptype", CHAR),
        ],
    ),
    (
        "pg_catalog",
        "pg_auth_members",
        Kind::Empty,
        'r',
        &[
            ("roleid", OID),
            ("member", OID),
            ("grantor", OID),
            ("admin_option", BOOL),
        ],
    ),
    (
        "pg_catalog",
        "pg_tables",
        Kind::Tables,
        'v',
        &[
            ("schemaname", NAME),
            ("tablename", NAME),
            ("tableowner", NAME),
            ("tablespace", NAME),
            ("hasindexes", BOOL),
            ("hasrules", BOOL),
            ("hastriggers", BOOL),
            ("rowsecurity", BOOL),
        ],
    ),
    (
        "pg_catalog",
        "pg_indexes",
        Kind::Indexes,
        'v',
        &[
            ("schemaname", NAME),
            ("tablename", NAME),
            ("indexname", NAME),
            ("tablespace", NAME),
            ("indexdef", TEXT),
        ],
    ),
    (
        "pg_catalog",
        "pg_sequences",
        Kind::Sequences,
        'v',
        &[
            ("schemaname", NAME),
            ("sequencename", NAME),
            ("sequenceowner", NAME),
            ("data_type", REGTYPE),
            ("start_value", INT8),
            ("min_value", INT8),
            ("max_value", INT8),
            ("increment_by", INT8),
            ("cycle", BOOL),
            ("cache_size", INT8),
            ("last_value", INT8),
        ],
    ),
    (
        "pg_catalog",
        "pg_views",
        Kind::Views,
        'v',
        &[
            ("schemaname", NAME),
            ("viewname", NAME),
            ("viewowner", NAME),
            ("definition", TEXT),
        ],
    ),
    (
        "pg_catalog",
        "pg_matviews",
        Kind::Empty,
        'v',
        &[
            ("schemaname", NAME),
            ("matviewname", NAME),
            ("matviewowner", NAME),
            ("tablespace", NAME),
            ("hasindexes", BOOL),
            ("ispopulated", BOOL),
            ("definition", TEXT),
        ],
    ),
    (
        "information_schema",
        "tables",
        Kind::IsTables,
        'v',
        &[
            ("table_catalog", SQL_IDENTIFIER),
            ("table_schema", SQL_IDENTIFIER),
            ("table_name", SQL_IDENTIFIER),
            ("table_type", CHARACTER_DATA),
            ("self_referencing_column_name", SQL_IDENTIFIER),
            ("reference_generation", CHARACTER_DATA),
            ("user_defined_type_catalog", SQL_IDENTIFIER),
            ("user_defined_type_schema", SQL_IDENTIFIER),
            ("user_defined_type_name", SQL_IDENTIFIER),
            ("is_insertable_into", YES_OR_NO),
            ("is_typed", YES_OR_NO),
            ("commit_action", CHARACTER_DATA),
        ],
    ),
    (
        "information_schema",
        "columns",
        Kind::IsColumns,
        'v',
        &[
            ("table_catalog", SQL_IDENTIFIER),
            ("table_schema", SQL_IDENTIFIER),
            ("table_name", SQL_IDENTIFIER),
            ("column_name", SQL_IDENTIFIER),
            ("ordinal_position", CARDINAL_NUMBER),
            ("column_default", CHARACTER_DATA),
            ("is_nullable", YES_OR_NO),
            ("data_type", CHARACTER_DATA),
            ("character_maximum_length", CARDINAL_NUMBER),
            ("character_octet_length", CARDINAL_NUMBER),
            ("numeric_precision", CARDINAL_NUMBER),
            ("numeric_precision_radix", CARDINAL_NUMBER),
            ("numeric_scale", CARDINAL_NUMBER),
            ("datetime_precision", CARDINAL_NUMBER),
            ("interval_type", CHARACTER_DATA),
            ("interval_precision", CARDINAL_NUMBER),
            ("character_set_catalog", SQL_IDENTIFIER),
            ("character_set_schema", SQL_IDENTIFIER),
            ("character_set_name", SQL_IDENTIFIER),
            ("collation_catalog", SQL_IDENTIFIER),
            ("collation_schema", SQL_IDENTIFIER),
            ("collation_name", SQL_IDENTIFIER),
            ("domain_catalog", SQL_IDENTIFIER),
            ("domain_schema", SQL_IDENTIFIER),
            ("domain_name", SQL_IDENTIFIER),
            ("udt_catalog", SQL_IDENTIFIER),
            ("udt_schema", SQL_IDENTIFIER),
            ("udt_name", SQL_IDENTIFIER),
            ("scope_catalog", SQL_IDENTIFIER),
            ("scope_schema", SQL_IDENTIFIER),
            ("scope_name", SQL_IDENTIFIER),
            ("maximum_cardinality", CARDINAL_NUMBER),
            ("dtd_identifier", SQL_IDENTIFIER),
            ("is_self_referencing", YES_OR_NO),
            ("is_identity", YES_OR_NO),
            ("identity_generation", CHARACTER_DATA),
            ("identity_start", CHARACTER_DATA),
            ("identity_increment", CHARACTER_DATA),
            ("identity_maximum", CHARACTER_DATA),
            ("identity_minimum", CHARACTER_DATA),
            ("identity_cycle", YES_OR_NO),
            ("is_generated", CHARACTER_DATA),
            ("generation_expression", CHARACTER_DATA),
            ("is_updatable", YES_OR_NO),
        ],
    ),
    (
        "information_schema",
        "schemata",
        Kind::IsSchemata,
        'v',
        &[
            ("catalog_name", SQL_IDENTIFIER),
            ("schema_name", SQL_IDENTIFIER),
            ("schema_owner", SQL_IDENTIFIER),
            ("default_character_set_catalog", SQL_IDENTIFIER),
            ("default_character_set_schema", SQL_IDENTIFIER),
            ("default_character_set_name", SQL_IDENTIFIER),
            ("sql_path", CHARACTER_DATA),
        ],
    ),
    (
        "information_schema",
        "table_constraints",
        Kind::IsTableConstraints,
        'v',
        &[
            ("constraint_catalog", SQL_IDENTIFIER),
            ("constraint_schema", SQL_IDENTIFIER),
            ("constraint_name", SQL_IDENTIFIER),
            ("table_catalog", SQL_IDENTIFIER),
            ("table_schema", SQL_IDENTIFIER),
            ("table_name", SQL_IDENTIFIER),
            ("constraint_type", CHARACTER_DATA),
            ("is_deferrable", YES_OR_NO),
            ("initially_deferred", YES_OR_NO),
            ("enforced", YES_OR_NO),
            ("nulls_distinct", YES_OR_NO),
        ],
    ),
    (
        "information_schema",
        "key_column_usage",
        Kind::IsKeyColumnUsage,
        'v',
        &[
            ("constraint_catalog", SQL_IDENTIFIER),
            ("constraint_schema", SQL_IDENTIFIER),
            ("constraint_name", SQL_IDENTIFIER),
            ("table_catalog", SQL_IDENTIFIER),
            ("table_schema", SQL_IDENTIFIER),
            ("table_name", SQL_IDENTIFIER),
            ("column_name", SQL_IDENTIFIER),
            ("ordinal_position", CARDINAL_NUMBER),
            ("position_in_unique_constraint", CARDINAL_NUMBER),
        ],
    ),
    (
        "information_schema",
        "referential_constraints",
        Kind::IsReferentialConstraints,
        'v',
        &[
            ("constraint_catalog", SQL_IDENTIFIER),
            ("constraint_schema", SQL_IDENTIFIER),
            ("constraint_name", SQL_IDENTIFIER),
            ("unique_constraint_catalog", SQL_IDENTIFIER),
            ("unique_constraint_schema", SQL_IDENTIFIER),
            ("unique_constraint_name", SQL_IDENTIFIER),
            ("match_option", CHARACTER_DATA),
            ("update_rule", CHARACTER_DATA),
            ("delete_rule", CHARACTER_DATA),
        ],
    ),
    (
        "information_schema",
        "constraint_column_usage",
        Kind::IsConstraintColumnUsage,
        'v',
        &[
            ("table_catalog", SQL_IDENTIFIER),
            ("table_schema", SQL_IDENTIFIER),
            ("table_name", SQL_IDENTIFIER),
            ("column_name", SQL_IDENTIFIER),
            ("constraint_catalog", SQL_IDENTIFIER),
            ("constraint_schema", SQL_IDENTIFIER),
            ("constraint_name", SQL_IDENTIFIER),
        ],
    ),
    (
        "pg_catalog",
        "pg_stats",
        Kind::Stats,
        'v',
        &[
            ("schemaname", NAME),
            ("tablename", NAME),
            ("attname", NAME),
            ("inherited", BOOL),
            ("null_frac", FLOAT4),
            ("avg_width", INT4),
            ("n_distinct", FLOAT4),
            ("most_common_vals", TEXTS),
            ("most_common_freqs", FLOAT4S),
            ("histogram_bounds", TEXTS),
            ("correlation", FLOAT4),
            ("most_common_elems", TEXTS),
            ("most_common_elem_freqs", FLOAT4S),
            ("elem_count_histogram", FLOAT4S),
        ],
    ),
    (
        "pg_catalog",
        "pg_stat_user_tables",
        Kind::StatUserTables,
        'v',
        &[
            ("relid", OID),
            ("schemaname", NAME),
            ("relname", NAME),
            ("seq_scan", INT8),
            ("seq_tup_read", INT8),
            ("idx_scan", INT8),
            ("idx_tup_fetch", INT8),
            ("n_tup_ins", INT8),
            ("n_tup_upd", INT8),
            ("n_tup_del", INT8),
            ("n_tup_hot_upd", INT8),
            ("n_live_tup", INT8),
            ("n_dead_tup", INT8),
            ("n_mod_since_analyze", INT8),
            ("n_ins_since_vacuum", INT8),
            ("last_vacuum", TIMESTAMPTZ),
            ("last_autovacuum", TIMESTAMPTZ),
            ("last_analyze", TIMESTAMPTZ),
            ("last_autoanalyze", TIMESTAMPTZ),
            ("vacuum_count", INT8),
            ("autovacuum_count", INT8),
            ("analyze_count", INT8),
            ("autoanalyze_count", INT8),
        ],
    ),
];

/// A catalog table: its definition (what the binder sees) and how its rows are made.
struct CatalogTable {
    def: Arc<TableDef>,
    kind: Kind,
    relkind: char,
}

fn catalog_tables() -> &'static [CatalogTable] {
    static TABLE_DEFS: OnceLock<Vec<CatalogTable>> = OnceLock::new();
    TABLE_DEFS.get_or_init(|| {
        TABLES
            .iter()
            .enumerate()
            .map(|(i, (schema, name, kind, relkind, cols))| {
                let columns: Vec<_> = cols
                    .iter()
                    .enumerate()
                    .map(|(c, (n, ty))| cairn_sql_plan::catalog::ColumnDef {
                        id: c as u32 + 1,
                        name: n.to_string(),
                        ty: ty.data_type(),
                        nullable: true,
                        default: None,
                        hidden: false,
                    })
                    .collect();
                let n = columns.len() as u32;
                CatalogTable {
                    def: Arc::new(TableDef {
                        id: CATALOG_RELATION_OID_BASE + i as u32,
                        database_id: 0,
                        schema: schema.to_string(),
                        name: name.to_string(),
                        columns,
                        // No key: catalog tables are scanned whole, never by key range.
                        primary: IndexDef {
                            id: PRIMARY_INDEX_ID,
                            name: String::new(),
                            columns: Vec::new(),
                            unique: false,
                            constraint: false,
                        },
                        indexes: Vec::new(),
                        checks: Vec::new(),
                        next_column_id: n + 1,
                        next_index_id: PRIMARY_INDEX_ID + 1,
                        has_declared_primary_key: false,
                        foreign_keys: Vec::new(),
                        referenced_by: Vec::new(),
                    }),
                    kind: *kind,
                    relkind: *relkind,
                }
            })
            .collect()
    })
}

/// Whether a table id is a catalog table's.
pub fn is_catalog_table(table_id: u32) -> bool {
    table_id
        .checked_sub(CATALOG_RELATION_OID_BASE)
        .is_some_and(|i| (i as usize) < TABLES.len())
}

fn catalog_table(table_id: u32) -> Option<&'static CatalogTable> {
    let i = table_id.checked_sub(CATALOG_RELATION_OID_BASE)?;
    catalog_tables().get(i as usize)
}

/// The catalog table `schema.name`: unqualified names find `pg_catalog`'s (it is first on
/// the search path); `information_schema` must be named.
pub fn lookup(schema: Option<&str>, name: &str) -> Option<Arc<TableDef>> {
    let schema = schema.unwrap_or("pg_catalog");
    catalog_tables()
        .iter()
        .find(|t| t.def.schema == schema && t.def.name == name)
        .map(|t| t.def.clone())
}

/// Whether `schema` holds only catalog tables (so a name not found there does not exist).
pub fn is_catalog_schema(schema: &str) -> bool {
    schema == "pg_catalog" || schema == "information_schema"
}

/// Fails for writes to a catalog table (invariant 1).
pub fn check_writable(table: &TableDef) -> Result<()> {
    if is_catalog_table(table.id) {
        return Err(SqlError::new(
            code::WRONG_OBJECT_TYPE,
            format!(
                "cannot change \"{}.{}\": it is a read-only system catalog",
                table.schema, table.name
            ),
        ));
    }
    Ok(())
}

// ----- the statement's snapshot -----

/// What the catalog tables of one statement are computed from (invariant 2).
pub struct Snapshot {
    database: DatabaseDesc,
    databases: Vec<DatabaseDesc>,
    tables: Vec<TableDef>,
    sequences: Vec<SequenceDesc>,
    /// Views with their output columns (names and types, from binding the query).
    views: Vec<(ViewDef, Vec<(String, DataType)>)>,
    roles: Vec<RoleDesc>,
    settings: Vec<(String, String)>,
    /// Stored statistics by table id, read on first use by a view that shows them
    /// (`pg_class`, `pg_stats`, `pg_stat_user_tables`), so other catalog reads do not add
    /// the statistics table to their transaction's reads.
    stats: RefCell<Option<Rc<HashMap<u32, TableStats>>>>,
    /// This node's change counters of the tables (auto_analyze.rs).
    activity: HashMap<u32, TableActivity>,
    /// Rows already computed, by catalog table id.
    rows: RefCell<HashMap<u32, Rc<Vec<Row>>>>,
}

/// The statement's snapshot, built on first use.
pub fn snapshot(cx: &ExecCtx) -> Result<Rc<Snapshot>> {
    if let Some(s) = cx.cache.catalog.borrow().as_ref() {
        return Ok(s.clone());
    }
    let mut txn = cx.txn.borrow_mut();
    let databases = catalog::databases(&mut **txn)?;
    let database = databases
        .iter()
        .find(|d| d.id == cx.database_id)
        .cloned()
        .ok_or_else(|| SqlError::new(code::UNDEFINED_DATABASE, "the current database is gone"))?;
    let mut tables = Vec::new();
    let mut sequences = Vec::new();
    let mut view_defs = Vec::new();
    for d in catalog::objects_in(&mut **txn, cx.database_id)? {
        match d {
            Descriptor::Table(t) => tables.push(t),
            Descriptor::Sequence(s) => sequences.push(s),
            Descriptor::View(v) => view_defs.push(v),
            Descriptor::Database(_) => {}
        }
    }
    let roles = catalog::roles(&mut **txn)?;
    let mut views = Vec::with_capacity(view_defs.len());
    for v in view_defs {
        let columns = view_columns(&mut **txn, cx, &v);
        views.push((v, columns));
    }
    drop(txn);
    let activity = tables
        .iter()
        .filter_map(|t| cx.activity.get(t.id).map(|a| (t.id, a)))
        .collect();
    let snap = Rc::new(Snapshot {
        database,
        databases,
        tables,
        sequences,
        views,
        roles,
        settings: cx.session.settings(),
        stats: RefCell::new(None),
        activity,
        rows: RefCell::new(HashMap::new()),
    });
    *cx.cache.catalog.borrow_mut() = Some(snap.clone());
    Ok(snap)
}

/// A view's output columns with their types, from binding its query now; a view that no
/// longer binds (a table it reads was dropped) lists its names as text.
fn view_columns(
    txn: &mut dyn crate::kv::KvTxn,
    cx: &ExecCtx,
    v: &ViewDef,
) -> Vec<(String, DataType)> {
    let typed = (|| -> Result<Vec<DataType>> {
        let cat = TxnCatalog::new(txn, cx.database_id);
        let stmt = cairn_sql_plan::parse(&v.sql)?
            .pop()
            .ok_or_else(|| SqlError::internal("empty view"))?;
        let mut binder = Binder::new(&cat, cx.session, Vec::new());
        match binder.bind_statement(&stmt)? {
            Bound::Query { columns, .. } => Ok(columns.into_iter().map(|c| c.ty).collect()),
            _ => Err(SqlError::internal("a view query bound to DML")),
        }
    })();
    v.columns
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let ty = typed
                .as_ref()
                .ok()
                .and_then(|t| t.get(i).cloned())
                .unwrap_or(DataType::Text);
            (n.clone(), ty)
        })
        .collect()
}

/// Rows of a catalog table that pass `filter`.
pub fn scan(table: &TableDef, filter: Option<&Expr>, cx: &ExecCtx) -> Result<Vec<Row>> {
    let ct = catalog_table(table.id)
        .ok_or_else(|| SqlError::internal(format!("\"{}\" is not a catalog table", table.name)))?;
    let snap = snapshot(cx)?;
    if matches!(ct.kind, Kind::Class | Kind::Stats | Kind::StatUserTables)
        && snap.stats.borrow().is_none()
    {
        let raw = crate::analyze::read_all_raw(&mut **cx.txn.borrow_mut())?;
        let decoded = snap
            .tables
            .iter()
            .filter_map(|t| {
                crate::analyze::decode_for_catalog(t, raw.get(&t.id)).map(|s| (t.id, s))
            })
            .collect();
        *snap.stats.borrow_mut() = Some(Rc::new(decoded));
    }
    let rows = snap.rows(ct)?;
    let mut out = Vec::new();
    for r in rows.iter() {
        let keep = match filter {
            Some(f) => cx.eval_row(f, r)?.as_bool()? == Some(true),
            None => true,
        };
        if keep {
            out.push(r.clone());
        }
    }
    Ok(out)
}

fn oid(v: u32) -> Value {
    Value::Int(v as i64)
}

fn name(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn ch(c: char) -> Value {
    Value::Text(if c == '\0' {
        String::new()
    } else {
        c.to_string()
    })
}

fn int(i: i64) -> Value {
    Value::Int(i)
}

fn b(v: bool) -> Value {
    Value::Bool(v)
}

fn opt_text(s: Option<&str>) -> Value {
    s.map_or(Value::Null, |s| Value::Text(s.to_string()))
}

fn yes_no(v: bool) -> Value {
    Value::Text(if v { "YES" } else { "NO" }.into())
}

/// A column number as `int2` (column ids beyond 32767 saturate; PostgreSQL allows 1600).
fn attnum(id: u32) -> Value {
    Value::Int(i16::try_from(id).unwrap_or(i16::MAX) as i64)
}

/// The default btree operator class of a type (`pg_opclass.oid`), 0 if Cairn lists none.
fn default_opclass(t: &DataType) -> u32 {
    match t {
        DataType::Bool => 10003,
        DataType::Bytea => 10006,
        DataType::Int2 => 1979,
        DataType::Int4 => 1978,
        DataType::Int8 => 3124,
        DataType::Float4 => 10012,
        DataType::Float8 => 3123,
        DataType::Text | DataType::Varchar(_) => 3126,
        DataType::Char(_) => 10004,
        DataType::Sys(SysType::Name) => 10028,
        DataType::Sys(SysType::Char) => 10007,
        DataType::Sys(s) if s.is_oid_like() => 1981,
        DataType::Date => 3122,
        DataType::Numeric(_) => 3125,
        DataType::Timestamptz(_) => 3127,
        DataType::Timestamp(_) => 3128,
        DataType::Interval => 10022,
        DataType::Time(_) => 10038,
        DataType::Uuid => 10065,
        DataType::Jsonb => 10088,
        _ => 0,
    }
}

/// `(oid, name, family, input type)` of the operator classes `default_opclass` names.
const OPCLASSES: &[(u32, &str, u32, u32)] = &[
    (1978, "int4_ops", 1976, 23),
    (1979, "int2_ops", 1976, 21),
    (1981, "oid_ops", 1989, 26),
    (3123, "float8_ops", 1970, 701),
    (3124, "int8_ops", 1976, 20),
    (3122, "date_ops", 434, 1082),
    (3125, "numeric_ops", 1988, 1700),
    (3126, "text_ops", 1994, 25),
    (3127, "timestamptz_ops", 434, 1184),
    (3128, "timestamp_ops", 434, 1114),
    (10003, "bool_ops", 424, 16),
    (10004, "bpchar_ops", 426, 1042),
    (10006, "bytea_ops", 428, 17),
    (10007, "char_ops", 429, 18),
    (10012, "float4_ops", 1970, 700),
    (10022, "interval_ops", 1982, 1186),
    (10028, "name_ops", 1994, 19),
    (10038, "time_ops", 1996, 1083),
    (10065, "uuid_ops", 2968, 2950),
    (10088, "jsonb_ops", 4033, 3802),
];

/// The collation of a column of type `t` (`attcollation`): the default one for collatable
/// types, "C" for `name`.
fn collation_of(t: &DataType) -> u32 {
    match t {
        DataType::Text | DataType::Varchar(_) | DataType::Char(_) => DEFAULT_COLLATION_OID,
        DataType::Sys(SysType::Name) => C_COLLATION_OID,
        _ => 0,
    }
}

fn type_entry(types: &[TypeEntry], type_oid: u32) -> Option<&TypeEntry> {
    types.iter().find(|t| t.oid == type_oid)
}

/// An index of a table as the catalog shows it: the declared primary key and the secondary
/// indexes (the hidden rowid key of a table without a primary key is not one).
fn shown_indexes(t: &TableDef) -> impl Iterator<Item = (&IndexDef, bool)> {
    let primary = t.has_declared_primary_key.then_some((&t.primary, true));
    primary
        .into_iter()
        .chain(t.indexes.iter().map(|i| (i, false)))
        .filter(move |(i, _)| index_oid(t.id, i.id).is_some())
}

/// An int2vector / oidvector / int2[] / oid[] value.
fn vector<I: IntoIterator<Item = i64>>(items: I) -> Value {
    Value::Array(items.into_iter().map(Value::Int).collect())
}

/// A column default as stored in `pg_attrdef.adbin`: the SQL text behind a marker naming
/// the column, so `pg_get_expr` can type its constants as the column's type (PostgreSQL's
/// node tree carries that coercion; Cairn's text does not).
fn adbin(column_id: u32, sql: &str) -> String {
    format!("/*attnum {column_id}*/ {sql}")
}

fn parse_adbin(s: &str) -> (Option<u32>, &str) {
    if let Some(rest) = s.strip_prefix("/*attnum ") {
        if let Some((n, sql)) = rest.split_once("*/") {
            return (n.trim().parse().ok(), sql.trim_start());
        }
    }
    (None, s)
}

/// Columns a CHECK expression mentions (`pg_constraint.conkey`).
fn check_columns(t: &TableDef, sql: &str) -> Value {
    use sqlparser::ast::Visit;
    let Ok(ast) = cairn_sql_plan::bind::parse_expr(sql) else {
        return Value::Null;
    };
    struct Idents(Vec<String>);
    impl sqlparser::ast::Visitor for Idents {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &sqlparser::ast::Expr) -> std::ops::ControlFlow<()> {
            if let sqlparser::ast::Expr::Identifier(id) = e {
                self.0.push(cairn_sql_plan::bind::ident_name(id));
            }
            std::ops::ControlFlow::Continue(())
        }
    }
    let mut v = Idents(Vec::new());
    let _ = ast.visit(&mut v);
    let mut ids: Vec<u32> = t
        .columns
        .iter()
        .filter(|c| v.0.contains(&c.name))
        .map(|c| c.id)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    vector(ids.into_iter().map(i64::from))
}

impl Snapshot {
    fn rows(&self, ct: &CatalogTable) -> Result<Rc<Vec<Row>>> {
        if let Some(r) = self.rows.borrow().get(&ct.def.id) {
            return Ok(r.clone());
        }
        let rows = Rc::new(self.compute(ct.kind)?);
        for r in rows.iter() {
            debug_assert_eq!(r.len(), ct.def.columns.len(), "{}", ct.def.name);
        }
        self.rows.borrow_mut().insert(ct.def.id, rows.clone());
        Ok(rows)
    }

    fn role_name(&self, role: u32) -> Option<String> {
        if role == DATABASE_OWNER_ROLE_OID {
            return Some("pg_database_owner".into());
        }
        if role == SUPERUSER_OID {
            return Some("postgres".into());
        }
        self.roles
            .iter()
            .find(|r| role_oid(&r.name) == role)
            .map(|r| r.name.clone())
    }

    fn table_by_id(&self, id: u32) -> Option<&TableDef> {
        self.tables.iter().find(|t| t.id == id)
    }

    /// `(table, index, is_primary)` of an index OID.
    fn index_by_oid(&self, idx_oid: u32) -> Option<(&TableDef, &IndexDef, bool)> {
        self.tables.iter().find_map(|t| {
            shown_indexes(t)
                .find(|(i, _)| index_oid(t.id, i.id) == Some(idx_oid))
                .map(|(i, p)| (t, i, p))
        })
    }

    /// `(name, namespace)` of a relation OID: tables, indexes, sequences, catalog tables.
    fn relation(&self, rel: u32) -> Option<(String, u32)> {
        if let Some(ct) = catalog_table(rel) {
            let ns = namespace::oid(&ct.def.schema).unwrap_or(namespace::PG_CATALOG);
            return Some((ct.def.name.clone(), ns));
        }
        if let Some(t) = self.table_by_id(rel) {
            return Some((t.name.clone(), namespace::PUBLIC));
        }
        if let Some(s) = self.sequences.iter().find(|s| s.id == rel) {
            return Some((s.name.clone(), namespace::PUBLIC));
        }
        if let Some((v, _)) = self.views.iter().find(|(v, _)| v.id == rel) {
            return Some((v.name.clone(), namespace::PUBLIC));
        }
        self.index_by_oid(rel)
            .map(|(_, i, _)| (i.name.clone(), namespace::PUBLIC))
    }

    /// The OID of relation `schema.name` (schema `None`: the search path).
    pub fn relation_oid(&self, schema: Option<&str>, rel_name: &str) -> Option<u32> {
        if schema.is_none_or(is_catalog_schema) {
            if let Some(t) = lookup(schema, rel_name) {
                return Some(t.id);
            }
        }
        if !matches!(schema, None | Some(catalog::PUBLIC_SCHEMA)) {
            return None;
        }
        if let Some(t) = self.tables.iter().find(|t| t.name == rel_name) {
            return Some(t.id);
        }
        if let Some(s) = self.sequences.iter().find(|s| s.name == rel_name) {
            return Some(s.id);
        }
        if let Some((v, _)) = self.views.iter().find(|(v, _)| v.name == rel_name) {
            return Some(v.id);
        }
        self.tables.iter().find_map(|t| {
            shown_indexes(t)
                .find(|(i, _)| i.name == rel_name)
                .and_then(|(i, _)| index_oid(t.id, i.id))
        })
    }

    /// `regclassout`: the name, qualified when its schema is not on the search path.
    fn regclass_name(&self, rel: u32) -> String {
        match self.relation(rel) {
            Some((n, ns)) if ns == namespace::PG_CATALOG || ns == namespace::PUBLIC => {
                deparse::quote_ident(&n)
            }
            Some((n, ns)) => format!(
                "{}.{}",
                namespace::name(ns).unwrap_or("?"),
                deparse::quote_ident(&n)
            ),
            None => rel.to_string(),
        }
    }

    fn compute(&self, kind: Kind) -> Result<Vec<Row>> {
        Ok(match kind {
            Kind::Class => self.pg_class(),
            Kind::Namespace => namespace::ALL
                .iter()
                .map(|(o, n)| {
                    let owner = if *o == namespace::PUBLIC {
                        DATABASE_OWNER_ROLE_OID
                    } else {
                        SUPERUSER_OID
                    };
                    vec![oid(*o), name(n), oid(owner), Value::Null]
                })
                .collect(),
            Kind::Attribute => self.pg_attribute(),
            Kind::Type => self.pg_type(),
            Kind::Index => self.pg_index(),
            Kind::Constraint => self.pg_constraint(),
            Kind::Database => self
                .databases
                .iter()
                .map(|d| {
                    vec![
                        oid(d.id),
                        name(&d.name),
                        oid(role_oid(&d.owner)),
                        int(UTF8_ENCODING),
                        ch('c'),
                        b(false),
                        b(true),
                        int(-1),
                        int(0),
                        int(1),
                        oid(DEFAULT_TABLESPACE_OID),
                        name("C"),
                        name("C"),
                        Value::Null,
                        Value::Null,
                        Value::Null,
                    ]
                })
                .collect(),
            Kind::Roles | Kind::User | Kind::Authid => self.roles_rows(kind),
            Kind::Am => vec![
                vec![
                    oid(HEAP_AM_OID),
                    name("heap"),
                    name("heap_tableam_handler"),
                    ch('t'),
                ],
                vec![oid(BTREE_AM_OID), name("btree"), name("bthandler"), ch('i')],
            ],
            Kind::Attrdef => {
                let mut out = Vec::new();
                for t in &self.tables {
                    for c in t.visible_columns().map(|(_, c)| c) {
                        let (Some(d), Some(o)) = (&c.default, attrdef_oid(t.id, c.id)) else {
                            continue;
                        };
                        out.push(vec![
                            oid(o),
                            oid(t.id),
                            attnum(c.id),
                            Value::Text(adbin(c.id, d)),
                        ]);
                    }
                }
                out
            }
            Kind::Tablespace => vec![
                vec![
                    oid(DEFAULT_TABLESPACE_OID),
                    name("pg_default"),
                    oid(SUPERUSER_OID),
                    Value::Null,
                    Value::Null,
                ],
                vec![
                    oid(1664),
                    name("pg_global"),
                    oid(SUPERUSER_OID),
                    Value::Null,
                    Value::Null,
                ],
            ],
            Kind::Collation => [
                (DEFAULT_COLLATION_OID, "default", 'd', None),
                (C_COLLATION_OID, "C", 'c', Some("C")),
                (951, "POSIX", 'c', Some("POSIX")),
            ]
            .iter()
            .map(|(o, n, p, c)| {
                vec![
                    oid(*o),
                    name(n),
                    oid(namespace::PG_CATALOG),
                    oid(SUPERUSER_OID),
                    ch(*p),
                    b(true),
                    int(-1),
                    opt_text(*c),
                    opt_text(*c),
                    Value::Null,
                    Value::Null,
                ]
            })
            .collect(),
            Kind::Sequence => self
                .sequences
                .iter()
                .map(|s| {
                    vec![
                        oid(s.id),
                        oid(sequence_type(s).oid()),
                        int(s.start),
                        int(s.increment),
                        int(s.max_value),
                        int(s.min_value),
                        int(1),
                        b(s.cycle),
                    ]
                })
                .collect(),
            Kind::Settings => self
                .settings
                .iter()
                .map(|(k, v)| {
                    vec![
                        Value::Text(k.clone()),
                        Value::Text(v.clone()),
                        Value::Null,
                        Value::Text("Ungrouped".into()),
                        Value::Text(String::new()),
                        Value::Null,
                        Value::Text("user".into()),
                        Value::Text("string".into()),
                        Value::Text("session".into()),
                        Value::Null,
                        Value::Null,
                        Value::Null,
                        Value::Text(v.clone()),
                        Value::Text(v.clone()),
                        Value::Null,
                        Value::Null,
                        b(false),
                    ]
                })
                .collect(),
            Kind::Opclass => OPCLASSES
                .iter()
                .map(|(o, n, family, input)| {
                    vec![
                        oid(*o),
                        oid(BTREE_AM_OID),
                        name(n),
                        oid(namespace::PG_CATALOG),
                        oid(SUPERUSER_OID),
                        oid(*family),
                        oid(*input),
                        b(true),
                        oid(0),
                    ]
                })
                .collect(),
            Kind::Tables => self.pg_tables(),
            Kind::Stats => crate::pg_stats::pg_stats_rows(&self.tables, &self.table_stats()),
            Kind::StatUserTables => crate::pg_stats::pg_stat_user_tables_rows(
                &self.tables,
                &self.table_stats(),
                &self.activity,
            ),
            Kind::Indexes => {
                let mut out = Vec::new();
                for t in &self.tables {
                    for (i, _) in shown_indexes(t) {
                        out.push(vec![
                            name(catalog::PUBLIC_SCHEMA),
                            name(&t.name),
                            name(&i.name),
                            Value::Null,
                            Value::Text(deparse::index_def(i, t, false)),
                        ]);
                    }
                }
                out
            }
            Kind::Sequences => self
                .sequences
                .iter()
                .map(|s| {
                    vec![
                        name(&s.schema),
                        name(&s.name),
                        name(&self.database.owner),
                        oid(sequence_type(s).oid()),
                        int(s.start),
                        int(s.min_value),
                        int(s.max_value),
                        int(s.increment),
                        b(s.cycle),
                        int(1),
                        Value::Null,
                    ]
                })
                .collect(),
            Kind::Views => catalog_tables()
                .iter()
                .filter(|t| t.relkind == 'v')
                .map(|t| {
                    vec![
                        name(&t.def.schema),
                        name(&t.def.name),
                        name("postgres"),
                        Value::Null,
                    ]
                })
                .chain(self.views.iter().map(|(v, _)| {
                    vec![
                        name(&v.schema),
                        name(&v.name),
                        name(&self.database.owner),
                        Value::Text(format!(" {};", v.sql)),
                    ]
                }))
                .collect(),
            Kind::Empty => Vec::new(),
            Kind::Depend => {
                let pg_class = lookup(Some("pg_catalog"), "pg_class").map_or(0, |t| t.id);
                self.sequences
                    .iter()
                    .filter_map(|s| {
                        let (table, column) = s.owned_by?;
                        Some(vec![
                            oid(pg_class),
                            oid(s.id),
                            int(0),
                            oid(pg_class),
                            oid(table),
                            int(column as i64),
                            ch('a'),
                        ])
                    })
                    .collect()
            }
            Kind::IsTables => self.is_tables(),
            Kind::IsColumns => self.is_columns(),
            Kind::IsSchemata => namespace::ALL
                .iter()
                .map(|(o, n)| {
                    let owner = if *o == namespace::PUBLIC {
                        "pg_database_owner"
                    } else {
                        "postgres"
                    };
                    vec![
                        name(&self.database.name),
                        name(n),
                        name(owner),
                        Value::Null,
                        Value::Null,
                        Value::Null,
                        Value::Null,
                    ]
                })
                .collect(),
            Kind::IsTableConstraints => self.is_table_constraints(),
            Kind::IsKeyColumnUsage => self.is_key_column_usage(),
            Kind::IsReferentialConstraints => self.is_referential_constraints(),
            Kind::IsConstraintColumnUsage => self.is_constraint_column_usage(),
        })
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one pg_class row; the arguments are its varying columns"
    )]
    fn class_row(
        &self,
        rel: u32,
        relname: &str,
        ns: u32,
        am: u32,
        relkind: char,
        natts: i64,
        checks: i64,
        has_index: bool,
    ) -> Row {
        let replident = if relkind == 'r' && ns == namespace::PUBLIC {
            'd'
        } else {
            'n'
        };
        vec![
            oid(rel),
            name(relname),
            oid(ns),
            oid(0),
            oid(0),
            oid(SUPERUSER_OID),
            oid(am),
            oid(0),
            oid(0),
            int(0),
            Value::Float(if relkind == 'i' { 0.0 } else { -1.0 }),
            int(0),
            oid(0),
            b(has_index),
            b(false),
            ch('p'),
            ch(relkind),
            int(natts),
            int(checks),
            b(relkind == 'v'),
            b(false),
            b(false),
            b(false),
            b(false),
            b(true),
            ch(replident),
            b(false),
            oid(0),
            int(0),
            int(0),
            Value::Null,
            Value::Null,
            Value::Null,
        ]
    }

    /// The statistics loaded by `scan` (empty if none were loaded).
    fn table_stats(&self) -> Rc<HashMap<u32, TableStats>> {
        self.stats.borrow().clone().unwrap_or_default()
    }

    fn pg_class(&self) -> Vec<Row> {
        let stats = self.table_stats();
        let mut out = Vec::new();
        for ct in catalog_tables() {
            let ns = namespace::oid(&ct.def.schema).unwrap_or(namespace::PG_CATALOG);
            let am = if ct.relkind == 'r' { HEAP_AM_OID } else { 0 };
            out.push(self.class_row(
                ct.def.id,
                &ct.def.name,
                ns,
                am,
                ct.relkind,
                ct.def.columns.len() as i64,
                0,
                false,
            ));
        }
        let referenced: std::collections::HashSet<u32> = self
            .tables
            .iter()
            .flat_map(|t| t.foreign_keys.iter().map(|f| f.ref_table))
            .collect();
        for t in &self.tables {
            let natts = t.visible_columns().map(|(_, c)| c.id).max().unwrap_or(0);
            out.push(self.class_row(
                t.id,
                &t.name,
                namespace::PUBLIC,
                HEAP_AM_OID,
                'r',
                natts as i64,
                t.checks.len() as i64,
                shown_indexes(t).next().is_some(),
            ));
            if let Some(row) = out.last_mut() {
                // relpages and reltuples (pg_stats.rs).
                let (pages, tuples) = crate::pg_stats::class_numbers(stats.get(&t.id));
                if let Some(p) = row.get_mut(9) {
                    *p = pages;
                }
                if let Some(r) = row.get_mut(10) {
                    *r = tuples;
                }
                if let Some(h) = row.get_mut(PG_CLASS_RELHASTRIGGERS) {
                    *h = b(!t.foreign_keys.is_empty() || referenced.contains(&t.id));
                }
            }
            for (i, _) in shown_indexes(t) {
                if let Some(o) = index_oid(t.id, i.id) {
                    out.push(self.class_row(
                        o,
                        &i.name,
                        namespace::PUBLIC,
                        BTREE_AM_OID,
                        'i',
                        i.columns.len() as i64,
                        0,
                        false,
                    ));
                }
            }
        }
        for s in &self.sequences {
            out.push(self.class_row(s.id, &s.name, namespace::PUBLIC, 0, 'S', 3, 0, false));
        }
        for (v, cols) in &self.views {
            out.push(self.class_row(
                v.id,
                &v.name,
                namespace::PUBLIC,
                0,
                'v',
                cols.len() as i64,
                0,
                false,
            ));
        }
        out
    }

    fn attribute_row(
        types: &[TypeEntry],
        rel: u32,
        num: Value,
        attname: &str,
        ty: &DataType,
        notnull: bool,
        hasdef: bool,
    ) -> Row {
        let te = type_entry(types, ty.oid());
        vec![
            oid(rel),
            name(attname),
            oid(ty.oid()),
            int(-1),
            int(ty.type_len() as i64),
            num,
            int(0),
            int(-1),
            int(ty.type_modifier() as i64),
            b(te.is_some_and(|t| t.by_value)),
            ch(te.map_or('i', |t| t.align)),
            ch(te.map_or('p', |t| t.storage)),
            ch('\0'),
            b(notnull),
            b(hasdef),
            b(false),
            ch('\0'),
            ch('\0'),
            b(false),
            b(true),
            int(0),
            oid(collation_of(ty)),
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
        ]
    }

    fn pg_attribute(&self) -> Vec<Row> {
        let types = type_entries();
        let mut out = Vec::new();
        for ct in catalog_tables() {
            for (k, c) in ct.def.columns.iter().enumerate() {
                out.push(Self::attribute_row(
                    &types,
                    ct.def.id,
                    int(k as i64 + 1),
                    &c.name,
                    &c.ty,
                    false,
                    false,
                ));
            }
        }
        for t in &self.tables {
            for (_, c) in t.visible_columns() {
                out.push(Self::attribute_row(
                    &types,
                    t.id,
                    attnum(c.id),
                    &c.name,
                    &c.ty,
                    !c.nullable,
                    c.default.is_some(),
                ));
            }
            for (i, _) in shown_indexes(t) {
                let Some(io) = index_oid(t.id, i.id) else {
                    continue;
                };
                for (k, ic) in i.columns.iter().enumerate() {
                    if let Some((_, c)) = t.column_by_id(ic.column_id) {
                        out.push(Self::attribute_row(
                            &types,
                            io,
                            int(k as i64 + 1),
                            &c.name,
                            &c.ty,
                            false,
                            false,
                        ));
                    }
                }
            }
        }
        for (v, cols) in &self.views {
            for (k, (n, ty)) in cols.iter().enumerate() {
                out.push(Self::attribute_row(
                    &types,
                    v.id,
                    int(k as i64 + 1),
                    n,
                    ty,
                    false,
                    false,
                ));
            }
        }
        out
    }

    fn pg_type(&self) -> Vec<Row> {
        type_entries()
            .iter()
            .map(|t| {
                let is_array = t.category == 'A' && t.name.starts_with('_');
                let (modin, modout) = match t.oid {
                    1042 => ("bpchartypmodin", "bpchartypmodout"),
                    1043 => ("varchartypmodin", "varchartypmodout"),
                    1083 => ("timetypmodin", "timetypmodout"),
                    1114 => ("timestamptypmodin", "timestamptypmodout"),
                    1184 => ("timestamptztypmodin", "timestamptztypmodout"),
                    1186 => ("intervaltypmodin", "intervaltypmodout"),
                    1700 => ("numerictypmodin", "numerictypmodout"),
                    _ => ("-", "-"),
                };
                vec![
                    oid(t.oid),
                    name(&t.name),
                    oid(namespace::PG_CATALOG),
                    oid(SUPERUSER_OID),
                    int(t.len as i64),
                    b(t.by_value),
                    ch(t.kind),
                    ch(t.category),
                    b(t.preferred),
                    b(true),
                    ch(','),
                    oid(0),
                    name(if is_array {
                        "array_subscript_handler"
                    } else {
                        "-"
                    }),
                    oid(t.elem),
                    oid(t.array),
                    name(t.input),
                    name(t.output),
                    name(t.receive),
                    name(t.send),
                    name(modin),
                    name(modout),
                    name(if is_array { "array_typanalyze" } else { "-" }),
                    ch(t.align),
                    ch(t.storage),
                    b(false),
                    oid(0),
                    int(-1),
                    int(0),
                    oid(t.collation),
                    Value::Null,
                    Value::Null,
                    Value::Null,
                ]
            })
            .collect()
    }

    fn pg_index(&self) -> Vec<Row> {
        let mut out = Vec::new();
        for t in &self.tables {
            for (i, primary) in shown_indexes(t) {
                let Some(io) = index_oid(t.id, i.id) else {
                    continue;
                };
                let col_ty = |ic: &cairn_sql_plan::catalog::IndexColumn| {
                    t.column_by_id(ic.column_id).map(|(_, c)| c.ty.clone())
                };
                let n = i.columns.len() as i64;
                out.push(vec![
                    oid(io),
                    oid(t.id),
                    int(n),
                    int(n),
                    b(i.unique),
                    b(false),
                    b(primary),
                    b(false),
                    b(true),
                    b(false),
                    b(true),
                    b(false),
                    b(true),
                    b(true),
                    b(false),
                    vector(i.columns.iter().map(|c| c.column_id as i64)),
                    vector(
                        i.columns
                            .iter()
                            .map(|c| col_ty(c).map_or(0, |ty| collation_of(&ty)) as i64),
                    ),
                    vector(
                        i.columns
                            .iter()
                            .map(|c| col_ty(c).map_or(0, |ty| default_opclass(&ty)) as i64),
                    ),
                    // INDOPTION_DESC | INDOPTION_NULLS_FIRST: DESC sorts NULLs first.
                    vector(i.columns.iter().map(|c| if c.descending { 3 } else { 0 })),
                    Value::Null,
                    Value::Null,
                ]);
            }
        }
        out
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one pg_constraint row; the arguments are its varying columns"
    )]
    fn constraint_row(
        con: u32,
        conname: &str,
        contype: char,
        rel: u32,
        index: u32,
        noinherit: bool,
        conkey: Value,
        conbin: Value,
    ) -> Row {
        vec![
            oid(con),
            name(conname),
            oid(namespace::PUBLIC),
            ch(contype),
            b(false),
            b(false),
            b(true),
            oid(rel),
            oid(0),
            oid(index),
            oid(0),
            oid(0),
            ch(' '),
            ch(' '),
            ch(' '),
            b(true),
            int(0),
            b(noinherit),
            conkey,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            conbin,
        ]
    }

    fn pg_constraint(&self) -> Vec<Row> {
        let mut out = Vec::new();
        for t in &self.tables {
            for (i, primary) in shown_indexes(t) {
                if !(primary || i.constraint) {
                    continue;
                }
                let Some(io) = index_oid(t.id, i.id) else {
                    continue;
                };
                out.push(Self::constraint_row(
                    io,
                    &i.name,
                    if primary { 'p' } else { 'u' },
                    t.id,
                    io,
                    true,
                    vector(i.columns.iter().map(|c| c.column_id as i64)),
                    Value::Null,
                ));
            }
            for (k, c) in t.checks.iter().enumerate() {
                let Some(co) = check_oid(t.id, k) else {
                    continue;
                };
                out.push(Self::constraint_row(
                    co,
                    &c.name,
                    'c',
                    t.id,
                    0,
                    false,
                    check_columns(t, &c.expr),
                    Value::Text(c.expr.clone()),
                ));
            }
            for (k, f) in t.foreign_keys.iter().enumerate() {
                let (Some(fo), Some(io)) = (fk_oid(t.id, k), index_oid(f.ref_table, f.ref_index))
                else {
                    continue;
                };
                let mut row = Self::constraint_row(
                    fo,
                    &f.name,
                    'f',
                    t.id,
                    io,
                    true,
                    vector(f.columns.iter().map(|c| i64::from(*c))),
                    Value::Null,
                );
                row[PG_CONSTRAINT_CONFRELID] = oid(f.ref_table);
                row[PG_CONSTRAINT_CONFRELID + 1] = ch(f.on_update.pg_code());
                row[PG_CONSTRAINT_CONFRELID + 2] = ch(f.on_delete.pg_code());
                row[PG_CONSTRAINT_CONFRELID + 3] = ch(if f.match_full { 'f' } else { 's' });
                row[PG_CONSTRAINT_CONFKEY] = vector(f.ref_columns.iter().map(|c| i64::from(*c)));
                out.push(row);
            }
        }
        out
    }

    /// Every foreign key: `(its table, its position there, the constraint, the referenced
    /// table)`, skipping those whose referenced table is not in the snapshot.
    fn foreign_keys(&self) -> Vec<(&TableDef, usize, &ForeignKeyDef, &TableDef)> {
        let mut out = Vec::new();
        for t in &self.tables {
            for (k, f) in t.foreign_keys.iter().enumerate() {
                if let Some(p) = self.table_by_id(f.ref_table) {
                    out.push((t, k, f, p));
                }
            }
        }
        out
    }

    /// The FOREIGN KEY constraint with OID `co`, with its table and referenced table.
    fn foreign_key_by_oid(&self, co: u32) -> Option<(&TableDef, &ForeignKeyDef, &TableDef)> {
        self.foreign_keys()
            .into_iter()
            .find(|(t, k, _, _)| fk_oid(t.id, *k) == Some(co))
            .map(|(t, _, f, p)| (t, f, p))
    }

    fn roles_rows(&self, kind: Kind) -> Vec<Row> {
        // (name, superuser, can log in); the bootstrap superuser also has REPLICATION and
        // BYPASSRLS, as after PostgreSQL's initdb.
        let mut roles: Vec<(String, bool, bool)> = self
            .roles
            .iter()
            .map(|r| (r.name.clone(), r.superuser, true))
            .collect();
        if kind != Kind::User {
            roles.push(("pg_database_owner".into(), false, false));
        }
        roles
            .into_iter()
            .map(|(n, sup, login)| {
                let o = role_oid(&n);
                match kind {
                    Kind::Roles => vec![
                        name(&n),
                        b(sup),
                        b(true),
                        b(sup),
                        b(sup),
                        b(login),
                        b(sup),
                        int(-1),
                        Value::Text("********".into()),
                        Value::Null,
                        b(sup),
                        Value::Null,
                        oid(o),
                    ],
                    Kind::User => vec![
                        name(&n),
                        oid(o),
                        b(sup),
                        b(sup),
                        b(sup),
                        b(sup),
                        Value::Text("********".into()),
                        Value::Null,
                        Value::Null,
                    ],
                    _ => {
                        vec![
                            oid(o),
                            name(&n),
                            b(sup),
                            b(true),
                            b(sup),
                            b(sup),
                            b(login),
                            b(sup),
                            b(sup),
                            int(-1),
                            Value::Null,
                            Value::Null,
                        ]
                    }
                }
            })
            .collect()
    }

    fn pg_tables(&self) -> Vec<Row> {
        let mut out = Vec::new();
        for ct in catalog_tables().iter().filter(|t| t.relkind == 'r') {
            out.push(vec![
                name(&ct.def.schema),
                name(&ct.def.name),
                name("postgres"),
                Value::Null,
                b(false),
                b(false),
                b(false),
                b(false),
            ]);
        }
        for t in &self.tables {
            out.push(vec![
                name(&t.schema),
                name(&t.name),
                name(&self.database.owner),
                Value::Null,
                b(shown_indexes(t).next().is_some()),
                b(false),
                b(false),
                b(false),
            ]);
        }
        out
    }

    /// Every relation information_schema lists: `(schema, name, table type, columns)`.
    fn is_relations(&self) -> Vec<(String, String, &'static str, Vec<IsColumn<'_>>)> {
        let mut out = Vec::new();
        for ct in catalog_tables() {
            let cols = ct
                .def
                .columns
                .iter()
                .enumerate()
                .map(|(k, c)| IsColumn {
                    position: k as u32 + 1,
                    name: &c.name,
                    ty: &c.ty,
                    nullable: true,
                    default: None,
                })
                .collect();
            let kind = if ct.relkind == 'v' {
                "VIEW"
            } else {
                "BASE TABLE"
            };
            out.push((ct.def.schema.clone(), ct.def.name.clone(), kind, cols));
        }
        for t in &self.tables {
            let cols = t
                .visible_columns()
                .map(|(_, c)| IsColumn {
                    position: c.id,
                    name: &c.name,
                    ty: &c.ty,
                    nullable: c.nullable,
                    default: c
                        .default
                        .as_ref()
                        .map(|d| deparse::expr_def(d, t, Some(&c.ty), false)),
                })
                .collect();
            out.push((t.schema.clone(), t.name.clone(), "BASE TABLE", cols));
        }
        for (v, vcols) in &self.views {
            let cols = vcols
                .iter()
                .enumerate()
                .map(|(k, (n, ty))| IsColumn {
                    position: k as u32 + 1,
                    name: n,
                    ty,
                    nullable: true,
                    default: None,
                })
                .collect();
            out.push((v.schema.clone(), v.name.clone(), "VIEW", cols));
        }
        out
    }

    fn is_tables(&self) -> Vec<Row> {
        let db = &self.database.name;
        self.is_relations()
            .into_iter()
            .map(|(schema, rel, kind, _)| {
                vec![
                    name(db),
                    name(&schema),
                    name(&rel),
                    Value::Text(kind.into()),
                    Value::Null,
                    Value::Null,
                    Value::Null,
                    Value::Null,
                    Value::Null,
                    yes_no(kind == "BASE TABLE" && schema == catalog::PUBLIC_SCHEMA),
                    yes_no(false),
                    Value::Null,
                ]
            })
            .collect()
    }

    fn is_columns(&self) -> Vec<Row> {
        let db = &self.database.name;
        let types = type_entries();
        let mut out = Vec::new();
        for (schema, rel, kind, cols) in self.is_relations() {
            for c in cols {
                let ty = c.ty;
                let (max_len, octets) = match ty {
                    DataType::Varchar(Some(n)) | DataType::Char(n) => {
                        (int(*n as i64), int(*n as i64 * 4))
                    }
                    DataType::Varchar(None) | DataType::Text => (Value::Null, int(1_073_741_824)),
                    _ => (Value::Null, Value::Null),
                };
                let (precision, radix, scale) = match ty {
                    DataType::Int2 => (int(16), int(2), int(0)),
                    DataType::Int4 => (int(32), int(2), int(0)),
                    DataType::Int8 => (int(64), int(2), int(0)),
                    DataType::Float4 => (int(24), int(2), Value::Null),
                    DataType::Float8 => (int(53), int(2), Value::Null),
                    DataType::Numeric(Some((p, s))) => (int(*p as i64), int(10), int(*s as i64)),
                    DataType::Numeric(None) => (Value::Null, int(10), Value::Null),
                    _ => (Value::Null, Value::Null, Value::Null),
                };
                let datetime_precision = match ty {
                    DataType::Date => int(0),
                    DataType::Time(p) | DataType::Timestamp(p) | DataType::Timestamptz(p) => {
                        int(p.unwrap_or(6) as i64)
                    }
                    DataType::Interval => int(6),
                    _ => Value::Null,
                };
                let data_type = match ty {
                    DataType::Sys(s) if !s.is_string() && !s.is_oid_like() => {
                        "USER-DEFINED".to_string()
                    }
                    DataType::Sys(SysType::Char) => "\"char\"".to_string(),
                    other => cairn_sql_plan::systypes::format_type(other.oid(), None),
                };
                let udt = type_entry(&types, ty.oid())
                    .map_or_else(|| ty.short_name().to_string(), |t| t.name.clone());
                out.push(vec![
                    name(db),
                    name(&schema),
                    name(&rel),
                    name(c.name),
                    int(c.position as i64),
                    opt_text(c.default.as_deref()),
                    yes_no(c.nullable),
                    Value::Text(data_type),
                    max_len,
                    octets,
                    precision,
                    radix,
                    scale,
                    datetime_precision,
                    Value::Null,
                    Value::Null,
                    Value::Null,
                    Value::Null,
                    Value::Null,
                    // PostgreSQL names a collation here only when the column has a
                    // non-default one, which Cairn's never have.
                    Value::Null,
                    Value::Null,
                    Value::Null,
                    Value::Null,
                    Value::Null,
                    Value::Null,
                    name(db),
                    name("pg_catalog"),
                    name(&udt),
                    Value::Null,
                    Value::Null,
                    Value::Null,
                    Value::Null,
                    name(&c.position.to_string()),
                    yes_no(false),
                    yes_no(false),
                    Value::Null,
                    Value::Null,
                    Value::Null,
                    Value::Null,
                    Value::Null,
                    yes_no(false),
                    Value::Text("NEVER".into()),
                    Value::Null,
                    yes_no(kind == "BASE TABLE" && schema == catalog::PUBLIC_SCHEMA),
                ]);
            }
        }
        out
    }

    /// `(table, constraint name, type, index)` of every PK/UNIQUE/CHECK constraint, and of
    /// the NOT NULL columns, which information_schema lists as CHECK constraints named
    /// `<namespace oid>_<table oid>_<attnum>_not_null`, as PostgreSQL 15 does.
    fn constraints(&self) -> Vec<(&TableDef, String, &'static str, Option<&IndexDef>)> {
        let mut out = Vec::new();
        for t in &self.tables {
            for (_, c) in t.visible_columns().filter(|(_, c)| !c.nullable) {
                out.push((
                    t,
                    format!("{}_{}_{}_not_null", namespace::PUBLIC, t.id, c.id),
                    "CHECK",
                    None,
                ));
            }
            for (i, primary) in shown_indexes(t) {
                if primary {
                    out.push((t, i.name.clone(), "PRIMARY KEY", Some(i)));
                } else if i.constraint {
                    out.push((t, i.name.clone(), "UNIQUE", Some(i)));
                }
            }
            for c in &t.checks {
                out.push((t, c.name.clone(), "CHECK", None));
            }
            for f in &t.foreign_keys {
                out.push((t, f.name.clone(), "FOREIGN KEY", None));
            }
        }
        out
    }

    fn is_table_constraints(&self) -> Vec<Row> {
        let db = &self.database.name;
        self.constraints()
            .into_iter()
            .map(|(t, n, kind, _)| {
                vec![
                    name(db),
                    name(&t.schema),
                    name(&n),
                    name(db),
                    name(&t.schema),
                    name(&t.name),
                    Value::Text(kind.into()),
                    yes_no(false),
                    yes_no(false),
                    yes_no(true),
                    if kind == "UNIQUE" {
                        yes_no(true)
                    } else {
                        Value::Null
                    },
                ]
            })
            .collect()
    }

    fn is_referential_constraints(&self) -> Vec<Row> {
        let db = &self.database.name;
        self.foreign_keys()
            .into_iter()
            .map(|(t, _, f, p)| {
                let unique = p.index_by_id(f.ref_index).map(|i| i.name.as_str());
                vec![
                    name(db),
                    name(&t.schema),
                    name(&f.name),
                    name(db),
                    name(&p.schema),
                    unique.map_or(Value::Null, name),
                    Value::Text(if f.match_full { "FULL" } else { "NONE" }.into()),
                    Value::Text(f.on_update.sql().into()),
                    Value::Text(f.on_delete.sql().into()),
                ]
            })
            .collect()
    }

    /// The columns each constraint uses: a PRIMARY KEY's or UNIQUE's own, a CHECK's, and a
    /// FOREIGN KEY's referenced columns (as PostgreSQL 15 lists them).
    fn is_constraint_column_usage(&self) -> Vec<Row> {
        let db = &self.database.name;
        let mut out = Vec::new();
        let mut push = |t: &TableDef, column_id: u32, constraint: &str| {
            if let Some((_, c)) = t.column_by_id(column_id) {
                out.push(vec![
                    name(db),
                    name(&t.schema),
                    name(&t.name),
                    name(&c.name),
                    name(db),
                    name(&t.schema),
                    name(constraint),
                ]);
            }
        };
        for t in &self.tables {
            for (i, primary) in shown_indexes(t) {
                if primary || i.constraint {
                    for ic in &i.columns {
                        push(t, ic.column_id, &i.name);
                    }
                }
            }
            for c in &t.checks {
                if let Value::Array(ids) = check_columns(t, &c.expr) {
                    for id in ids {
                        if let Value::Int(id) = id {
                            push(t, u32::try_from(id).unwrap_or(u32::MAX), &c.name);
                        }
                    }
                }
            }
        }
        for (_, _, f, p) in self.foreign_keys() {
            for id in &f.ref_columns {
                push(p, *id, &f.name);
            }
        }
        out
    }

    fn is_key_column_usage(&self) -> Vec<Row> {
        let db = &self.database.name;
        let mut out = Vec::new();
        for (t, _, f, p) in self.foreign_keys() {
            let unique = p.index_by_id(f.ref_index);
            for (k, id) in f.columns.iter().enumerate() {
                let Some((_, c)) = t.column_by_id(*id) else {
                    continue;
                };
                let position = f.ref_columns.get(k).and_then(|rc| {
                    unique?
                        .columns
                        .iter()
                        .position(|ic| ic.column_id == *rc)
                        .map(|pos| int(pos as i64 + 1))
                });
                out.push(vec![
                    name(db),
                    name(&t.schema),
                    name(&f.name),
                    name(db),
                    name(&t.schema),
                    name(&t.name),
                    name(&c.name),
                    int(k as i64 + 1),
                    position.unwrap_or(Value::Null),
                ]);
            }
        }
        for (t, n, _, index) in self.constraints() {
            let Some(i) = index else { continue };
            for (k, ic) in i.columns.iter().enumerate() {
                let Some((_, c)) = t.column_by_id(ic.column_id) else {
                    continue;
                };
                out.push(vec![
                    name(db),
                    name(&t.schema),
                    name(&n),
                    name(db),
                    name(&t.schema),
                    name(&t.name),
                    name(&c.name),
                    int(k as i64 + 1),
                    Value::Null,
                ]);
            }
        }
        out
    }
}

/// A column as information_schema describes it.
struct IsColumn<'a> {
    position: u32,
    name: &'a str,
    ty: &'a DataType,
    nullable: bool,
    default: Option<String>,
}

/// The type a sequence is declared as, from its range (Cairn keeps only the bounds).
fn sequence_type(s: &SequenceDesc) -> DataType {
    if s.max_value <= i16::MAX as i64 && s.min_value >= i16::MIN as i64 {
        DataType::Int2
    } else if s.max_value <= i32::MAX as i64 && s.min_value >= i32::MIN as i64 {
        DataType::Int4
    } else {
        DataType::Int8
    }
}

// ----- catalog functions -----

fn arg_oid(args: &[Value], i: usize) -> Option<u32> {
    match args.get(i) {
        Some(Value::Int(v)) => u32::try_from(*v).ok(),
        _ => None,
    }
}

fn arg_text(args: &[Value], i: usize) -> Option<&str> {
    match args.get(i) {
        Some(Value::Text(s)) => Some(s),
        _ => None,
    }
}

fn arg_bool(args: &[Value], i: usize) -> bool {
    matches!(args.get(i), Some(Value::Bool(true)))
}

/// Evaluates a catalog function (`PgFunc::needs_catalog`) over the statement's snapshot.
pub fn call(cx: &ExecCtx, func: PgFunc, args: &[Value]) -> Result<Value> {
    let snap = snapshot(cx)?;
    let text = |s: String| Value::Text(s);
    Ok(match func {
        PgFunc::RegClassOut => match arg_oid(args, 0) {
            Some(o) => text(snap.regclass_name(o)),
            None => Value::Null,
        },
        PgFunc::RegRoleOut | PgFunc::GetUserById => match arg_oid(args, 0) {
            Some(o) => text(snap.role_name(o).unwrap_or_else(|| {
                if func == PgFunc::GetUserById {
                    format!("unknown (OID={o})")
                } else {
                    o.to_string()
                }
            })),
            None => Value::Null,
        },
        PgFunc::ToRegClass { missing_ok } => {
            let s = arg_text(args, 0).unwrap_or_default();
            let found = match s.trim().parse::<u32>() {
                Ok(n) => Some(n),
                Err(_) => {
                    let (schema, n) = cairn_sql_plan::bind::split_qualified_name(s)?;
                    snap.relation_oid(schema.as_deref(), &n)
                }
            };
            match found {
                Some(o) => oid(o),
                None if missing_ok => Value::Null,
                None => {
                    return Err(SqlError::new(
                        code::UNDEFINED_TABLE,
                        format!("relation \"{s}\" does not exist"),
                    ))
                }
            }
        }
        PgFunc::ToRegRole => {
            let s = arg_text(args, 0).unwrap_or_default();
            let n = s.trim().trim_matches('"');
            let known = n == "pg_database_owner"
                || n == "postgres"
                || snap.roles.iter().any(|r| r.name == n);
            if !known {
                return Err(SqlError::new(
                    code::UNDEFINED_OBJECT,
                    format!("role \"{n}\" does not exist"),
                ));
            }
            oid(role_oid(n))
        }
        PgFunc::GetExpr => {
            let (Some(expr), Some(rel)) = (arg_text(args, 0), arg_oid(args, 1)) else {
                return Ok(Value::Null);
            };
            let pretty = arg_bool(args, 2);
            let Some(t) = snap.table_by_id(rel) else {
                return Ok(Value::Null);
            };
            let (column, sql) = parse_adbin(expr);
            let target = column
                .and_then(|c| t.column_by_id(c))
                .map(|(_, c)| c.ty.clone());
            text(deparse::expr_def(sql, t, target.as_ref(), pretty))
        }
        PgFunc::GetIndexDef => {
            let Some(io) = arg_oid(args, 0) else {
                return Ok(Value::Null);
            };
            let Some((t, i, _)) = snap.index_by_oid(io) else {
                return Ok(Value::Null);
            };
            let column = match args.get(1) {
                Some(Value::Int(k)) => usize::try_from(*k).unwrap_or(usize::MAX),
                _ => 0,
            };
            let pretty = arg_bool(args, 2);
            if column == 0 {
                text(deparse::index_def(i, t, pretty))
            } else {
                text(deparse::index_column(i, t, column))
            }
        }
        PgFunc::GetConstraintDef => {
            let Some(co) = arg_oid(args, 0) else {
                return Ok(Value::Null);
            };
            let pretty = arg_bool(args, 1);
            if let Some((t, i, primary)) = snap.index_by_oid(co) {
                if primary || i.constraint {
                    return Ok(text(deparse::key_constraint_def(i, t, primary)));
                }
            }
            if let Some((t, f, p)) = snap.foreign_key_by_oid(co) {
                return Ok(text(deparse::foreign_key_def(f, t, p)));
            }
            let check = snap.tables.iter().find_map(|t| {
                t.checks
                    .iter()
                    .enumerate()
                    .find(|(k, _)| check_oid(t.id, *k) == Some(co))
                    .map(|(_, c)| (t, c))
            });
            match check {
                Some((t, c)) => text(deparse::check_def(&c.expr, t, pretty)),
                None => Value::Null,
            }
        }
        PgFunc::TableIsVisible => match arg_oid(args, 0).and_then(|o| snap.relation(o)) {
            None => Value::Null,
            Some((n, ns)) => b(ns == namespace::PG_CATALOG
                || (ns == namespace::PUBLIC && lookup(None, &n).is_none())),
        },
        PgFunc::GetSerialSequence => {
            let (Some(table_name), Some(column)) = (arg_text(args, 0), arg_text(args, 1)) else {
                return Ok(Value::Null);
            };
            let (schema, tn) = cairn_sql_plan::bind::split_qualified_name(table_name)?;
            let t = match snap
                .relation_oid(schema.as_deref(), &tn)
                .and_then(|o| snap.table_by_id(o))
            {
                Some(t) => t,
                None => {
                    return Err(SqlError::new(
                        code::UNDEFINED_TABLE,
                        format!("relation \"{table_name}\" does not exist"),
                    ))
                }
            };
            let Some(c) = t.columns.iter().find(|c| c.name == column && !c.hidden) else {
                return Err(SqlError::new(
                    code::UNDEFINED_COLUMN,
                    format!(
                        "column \"{column}\" of relation \"{}\" does not exist",
                        t.name
                    ),
                ));
            };
            match snap
                .sequences
                .iter()
                .find(|s| s.owned_by == Some((t.id, c.id)))
            {
                Some(s) => text(format!(
                    "{}.{}",
                    deparse::quote_ident(&s.schema),
                    deparse::quote_ident(&s.name)
                )),
                None => Value::Null,
            }
        }
        other => {
            return Err(SqlError::internal(format!(
                "{other:?} is not a catalog function"
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oids_do_not_collide() {
        // Derived OIDs of different kinds and tables never meet, and stay clear of the
        // descriptor and catalog-table ranges.
        let mut seen = std::collections::HashSet::new();
        for table in [100u32, 101, 2000, TABLE_ID_LIMIT - 1] {
            for i in 1..CHECK_SUB_ID_BASE {
                let o = index_oid(table, i).unwrap();
                assert!(o >= DERIVED_OID_BASE);
                assert!(seen.insert(o), "index {table}/{i}");
            }
            for k in 0..(FK_SUB_ID_BASE - CHECK_SUB_ID_BASE) as usize {
                assert!(
                    seen.insert(check_oid(table, k).unwrap()),
                    "check {table}/{k}"
                );
            }
            for k in 0..((1 << SUB_ID_BITS) - FK_SUB_ID_BASE) as usize {
                assert!(seen.insert(fk_oid(table, k).unwrap()), "fk {table}/{k}");
            }
        }
        assert_eq!(index_oid(TABLE_ID_LIMIT, 1), None);
        assert_eq!(index_oid(100, CHECK_SUB_ID_BASE), None);
        assert_eq!(
            check_oid(100, (FK_SUB_ID_BASE - CHECK_SUB_ID_BASE) as usize),
            None
        );
        assert_eq!(
            fk_oid(100, ((1 << SUB_ID_BITS) - FK_SUB_ID_BASE) as usize),
            None
        );
        // The positions patched in pg_constraint's (foreign keys) and pg_class's rows.
        let columns_of = |table: &str| {
            TABLES
                .iter()
                .find(|t| t.1 == table)
                .map(|t| t.4)
                .unwrap_or_default()
        };
        let cols = columns_of("pg_constraint");
        assert_eq!(cols[PG_CONSTRAINT_CONFRELID].0, "confrelid");
        assert_eq!(
            columns_of("pg_class")[PG_CLASS_RELHASTRIGGERS].0,
            "relhastriggers"
        );
        assert_eq!(cols[PG_CONSTRAINT_CONFRELID + 3].0, "confmatchtype");
        assert_eq!(cols[PG_CONSTRAINT_CONFKEY].0, "confkey");
        assert_eq!(attrdef_oid(100, 1 << SUB_ID_BITS), None);
        for n in ["alice", "bob", "", "x".repeat(100).as_str()] {
            let o = role_oid(n);
            assert!((16384..CATALOG_RELATION_OID_BASE).contains(&o), "{n}: {o}");
        }
        assert_eq!(role_oid("postgres"), SUPERUSER_OID);
    }

    #[test]
    fn catalog_tables_resolve_like_the_search_path() {
        assert!(lookup(None, "pg_class").is_some());
        assert!(lookup(Some("pg_catalog"), "pg_class").is_some());
        assert!(
            lookup(None, "tables").is_none(),
            "information_schema is not on the path"
        );
        assert!(lookup(Some("information_schema"), "tables").is_some());
        assert!(lookup(Some("public"), "pg_class").is_none());
        for t in catalog_tables() {
            assert!(is_catalog_table(t.def.id));
            assert!(t.def.columns.iter().all(|c| !c.hidden));
            assert!(check_writable(&t.def).is_err());
        }
        let stored = adbin(4, "'x'");
        let (col, sql) = parse_adbin(&stored);
        assert_eq!((col, sql), (Some(4), "'x'"));
        assert_eq!(parse_adbin("0"), (None, "0"));
    }
}
