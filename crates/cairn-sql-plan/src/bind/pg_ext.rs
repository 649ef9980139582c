//! Binder support for PostgreSQL's catalog dialect: the system types in casts (`::regclass`,
//! `::oid`, `::"char"`, `::pg_catalog.text`), the regular-expression operators (`~`, `~*`,
//! `!~`, `!~*`, also as `OPERATOR(pg_catalog.~)`), `COLLATE` (accepted and ignored: Cairn
//! compares strings bytewise, PostgreSQL's "C" collation), and the catalog and session
//! functions psql and drivers call (`pg_get_indexdef`, `format_type`, `current_setting`, ...).
//!
//! Role: `Binder::bind_expr` tries [`Binder::bind_expr_pg`] first and `data_type` tries
//! [`data_type_pg`] first; both answer `None` for anything that is not theirs, so the general
//! binder is unchanged for it. Function bodies live in `expr::pg_functions` and, for those
//! that read the catalog, in the executor.
//!
//! Invariants:
//! 1. `'name'::regclass` (and `regtype`, `regnamespace`) of a literal is resolved here, at
//!    bind time, through `Catalog::relation_oid`, so it costs nothing per row and an unknown
//!    name is reported before execution (42P01 / 42704 / 3F000), as in PostgreSQL.
//!    Non-literal inputs (`$1::regclass`) are resolved per row by the catalog function.
//!    Test (cairn): `tests/pg/sql_session.rs` `regclass_prints_relation_names`.
//! 2. A query whose output has a `reg*` column prints names, not numbers (PostgreSQL's
//!    `regclassout`): [`Binder::name_reg_outputs`] wraps those columns; the column keeps its
//!    type, so RowDescription still says `regclass`. Test: the same, and `tests/pg/catalog.rs`
//!    `catalog_types_decode_in_tokio_postgres`.
//! 3. Functions that only answer constants here (`obj_description` is always NULL: Cairn has
//!    no comments; the privilege checks are always true: Cairn has no privileges) still bind
//!    their arguments, so a wrong column name is still an error.
//! 4. Set-returning functions (`unnest`, `generate_subscripts`, `generate_series`) expand only
//!    as whole select-list items ([`Binder::expand_set_returning`], `Plan::ProjectSet`) or in
//!    FROM; anywhere else evaluating one is 0A000, never a wrong result. Test (cairn):
//!    `tests/pg/sql_session.rs` `set_returning_functions_and_array_aggregates`.

use sqlparser::ast;

use super::{
    contains_aggregate, data_type, function_name, ident_name, no_function, unsupported, Binder,
    Scope,
};
use crate::error::{code, Result, SqlError};
use crate::expr::pg_functions::Srf;
use crate::expr::{Expr, Func, PgFunc, SubqueryKind};
use crate::plan::{AggCall, AggFunc, AggOrder, OutputColumn, Plan};
use crate::systypes::{self, SysType};
use crate::types::{DataType, Value};

/// Type names the general `data_type` does not know: the system types, `pg_catalog.`-qualified
/// built-in names and `text`/`varchar` written as plain identifiers.
pub(super) fn data_type_pg(t: &ast::DataType) -> Result<Option<DataType>> {
    match t {
        ast::DataType::Regclass => Ok(Some(DataType::Sys(SysType::RegClass))),
        ast::DataType::Custom(name, mods) if mods.is_empty() => {
            let parts = &name.0;
            let (schema, last) = match parts.as_slice() {
                [n] => (None, n),
                [s, n] => (Some(s), n),
                _ => return Ok(None),
            };
            let Some(id) = last.as_ident() else {
                return Ok(None);
            };
            if let Some(s) = schema {
                let s = s.as_ident().map(super::ident_name);
                if s.as_deref() != Some("pg_catalog") {
                    return Ok(None);
                }
            }
            // `"char"` (quoted) is the one-byte system type; unquoted `char` is character(1).
            if id.quote_style.is_some() && id.value == "char" {
                return Ok(Some(DataType::Sys(SysType::Char)));
            }
            let n = super::ident_name(id);
            if let Some(s) = SysType::from_name(&n) {
                return Ok(Some(DataType::Sys(s)));
            }
            Ok(match n.as_str() {
                "text" => Some(DataType::Text),
                "varchar" => Some(DataType::Varchar(None)),
                "bytea" => Some(DataType::Bytea),
                _ if schema.is_some() => {
                    // pg_catalog.int4 and friends: the unqualified name through the general
                    // mapping.
                    let bare = ast::DataType::Custom(
                        ast::ObjectName(vec![ast::ObjectNamePart::Identifier(id.clone())]),
                        Vec::new(),
                    );
                    Some(data_type(&bare)?)
                }
                _ => None,
            })
        }
        _ => Ok(None),
    }
}

/// A string literal (possibly parenthesised), for resolving `'name'::regclass` at bind time.
fn string_literal(e: &ast::Expr) -> Option<&str> {
    match e {
        ast::Expr::Nested(inner) => string_literal(inner),
        ast::Expr::Value(v) => match &v.value {
            ast::Value::SingleQuotedString(s) | ast::Value::EscapedStringLiteral(s) => Some(s),
            _ => None,
        },
        _ => None,
    }
}

/// Splits a possibly qualified, possibly quoted relation name (`pg_catalog.pg_class`,
/// `"My Table"`) as PostgreSQL's `regclassin` does.
pub fn split_qualified_name(s: &str) -> Result<(Option<String>, String)> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = s.trim().chars().peekable();
    let mut quoted_part = false;
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted_part = true;
                loop {
                    match chars.next() {
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            cur.push('"');
                        }
                        Some('"') => break,
                        Some(x) => cur.push(x),
                        None => {
                            return Err(SqlError::new(
                                code::INVALID_NAME,
                                format!("invalid name syntax: {s}"),
                            ))
                        }
                    }
                }
            }
            '.' => {
                parts.push(std::mem::take(&mut cur));
                quoted_part = false;
            }
            c if quoted_part => {
                return Err(SqlError::new(
                    code::INVALID_NAME,
                    format!("invalid name syntax: {s} ({c})"),
                ))
            }
            c => cur.extend(c.to_lowercase()),
        }
    }
    parts.push(cur);
    match parts.as_slice() {
        [n] if !n.is_empty() => Ok((None, n.clone())),
        [s, n] | [_, s, n] if !n.is_empty() => Ok((Some(s.clone()), n.clone())),
        _ => Err(SqlError::new(
            code::INVALID_NAME,
            format!("invalid name syntax: {s}"),
        )),
    }
}

fn pg_call(func: PgFunc, args: Vec<Expr>, ty: DataType) -> Expr {
    Expr::Func {
        func: Func::Pg(func),
        args,
        ty,
    }
}

/// The output function of a `reg*` type (its value as a name).
fn reg_out(kind: SysType, e: Expr, ty: DataType) -> Expr {
    let f = match kind {
        SysType::RegClass => PgFunc::RegClassOut,
        SysType::RegType => PgFunc::RegTypeOut,
        SysType::RegNamespace => PgFunc::RegNamespaceOut,
        SysType::RegRole => PgFunc::RegRoleOut,
        _ => PgFunc::RegProcOut,
    };
    pg_call(f, vec![e], ty)
}

fn oid_ty() -> DataType {
    DataType::Sys(SysType::Oid)
}

/// PostgreSQL's regex operators by symbol: `(case_insensitive, negated)`.
fn regex_op(symbol: &str) -> Option<(bool, bool)> {
    Some(match symbol {
        "~" => (false, false),
        "~*" => (true, false),
        "!~" => (false, true),
        "!~*" => (true, true),
        _ => return None,
    })
}

/// Names this module binds (checked before the general function binder).
fn is_pg_function(name: &str) -> bool {
    matches!(
        name,
        "pg_table_is_visible"
            | "pg_type_is_visible"
            | "pg_function_is_visible"
            | "pg_collation_is_visible"
            | "pg_opclass_is_visible"
            | "pg_operator_is_visible"
            | "pg_conversion_is_visible"
            | "pg_get_userbyid"
            | "format_type"
            | "pg_get_expr"
            | "pg_get_indexdef"
            | "pg_get_constraintdef"
            | "obj_description"
            | "col_description"
            | "shobj_description"
            | "pg_encoding_to_char"
            | "has_table_privilege"
            | "has_schema_privilege"
            | "has_database_privilege"
            | "has_column_privilege"
            | "has_sequence_privilege"
            | "has_any_column_privilege"
            | "has_function_privilege"
            | "pg_has_role"
            | "current_schemas"
            | "pg_backend_pid"
            | "quote_ident"
            | "current_setting"
            | "pg_get_serial_sequence"
            | "pg_relation_is_publishable"
            | "pg_get_statisticsobjdef_columns"
            | "pg_is_in_recovery"
            | "pg_is_other_temp_schema"
            | "pg_my_temp_schema"
            | "to_regclass"
            | "to_regtype"
            | "to_regnamespace"
            | "to_regrole"
            | "array_to_string"
            | "json_build_object"
            | "unnest"
            | "generate_subscripts"
            | "generate_series"
            | "pg_partition_ancestors"
            | "pg_get_triggerdef"
    )
}

/// The element type a set-returning function yields from its first argument's type.
fn srf_element(srf: Srf, arg: &DataType) -> Option<DataType> {
    match (srf, arg) {
        (Srf::Unnest, DataType::Array(e)) => Some((**e).clone()),
        (Srf::Unnest, DataType::Sys(s @ (SysType::Int2Vector | SysType::OidVector))) => {
            Some(s.vector_element())
        }
        (
            Srf::Subscripts { .. },
            DataType::Array(_) | DataType::Sys(SysType::Int2Vector | SysType::OidVector),
        ) => Some(DataType::Int4),
        _ => None,
    }
}

impl Binder<'_> {
    /// The catalog-dialect forms (see the module header); `None` for everything else.
    pub(super) fn bind_expr_pg(&mut self, e: &ast::Expr, scope: &Scope) -> Result<Option<Expr>> {
        use ast::Expr as E;
        match e {
            E::BinaryOp { left, op, right } => {
                let symbol = match op {
                    ast::BinaryOperator::PGRegexMatch => "~".to_string(),
                    ast::BinaryOperator::PGRegexIMatch => "~*".to_string(),
                    ast::BinaryOperator::PGRegexNotMatch => "!~".to_string(),
                    ast::BinaryOperator::PGRegexNotIMatch => "!~*".to_string(),
                    ast::BinaryOperator::PGCustomBinaryOperator(parts) => match parts.as_slice() {
                        [op] => op.clone(),
                        [schema, op] if schema.eq_ignore_ascii_case("pg_catalog") => op.clone(),
                        _ => return Ok(None),
                    },
                    _ => return Ok(None),
                };
                if let Some((case_insensitive, negated)) = regex_op(&symbol) {
                    return self
                        .bind_regex(left, right, case_insensitive, negated, scope)
                        .map(Some);
                }
                // OPERATOR(pg_catalog.=) and friends: the ordinary operator.
                let plain = match symbol.as_str() {
                    "=" => ast::BinaryOperator::Eq,
                    "<>" | "!=" => ast::BinaryOperator::NotEq,
                    "<" => ast::BinaryOperator::Lt,
                    "<=" => ast::BinaryOperator::LtEq,
                    ">" => ast::BinaryOperator::Gt,
                    ">=" => ast::BinaryOperator::GtEq,
                    "+" => ast::BinaryOperator::Plus,
                    "-" => ast::BinaryOperator::Minus,
                    "*" => ast::BinaryOperator::Multiply,
                    "/" => ast::BinaryOperator::Divide,
                    "%" => ast::BinaryOperator::Modulo,
                    "||" => ast::BinaryOperator::StringConcat,
                    "~~" | "!~~" | "~~*" | "!~~*" => {
                        let like = ast::Expr::Like {
                            negated: symbol.starts_with('!'),
                            any: false,
                            expr: left.clone(),
                            pattern: right.clone(),
                            escape_char: None,
                        };
                        let like = if symbol.ends_with('*') {
                            match like {
                                ast::Expr::Like {
                                    negated,
                                    any,
                                    expr,
                                    pattern,
                                    escape_char,
                                } => ast::Expr::ILike {
                                    negated,
                                    any,
                                    expr,
                                    pattern,
                                    escape_char,
                                },
                                other => other,
                            }
                        } else {
                            like
                        };
                        return self.bind_expr(&like, scope).map(Some);
                    }
                    _ => return Ok(None),
                };
                let e = ast::Expr::BinaryOp {
                    left: left.clone(),
                    op: plain,
                    right: right.clone(),
                };
                self.bind_expr(&e, scope).map(Some)
            }
            // The collation is ignored: Cairn orders strings bytewise (invariant in the header).
            E::Collate { expr, .. } => self.bind_expr(expr, scope).map(Some),
            E::Cast {
                expr,
                data_type: t,
                format,
                ..
            } => {
                let target = data_type(t)?;
                if !matches!(target, DataType::Sys(_)) && !target.is_string() {
                    return Ok(None);
                }
                if format.is_some() {
                    return unsupported("CAST ... FORMAT");
                }
                self.bind_cast_pg(expr, target, scope).map(Some)
            }
            E::Function(f) => self.bind_function_pg(f, scope),
            // int2vector / oidvector subscripts start at 0 (arrays are the general binder's).
            E::CompoundFieldAccess { root, access_chain } => {
                // `t.col[i]` parses as `t` with the access chain `.col`, `[i]`: fold the
                // dotted names into the root so both this and the array subscripts of the
                // general binder see `t.col` subscripted once.
                if let (E::Identifier(first), [dots @ .., ast::AccessExpr::Subscript(sub)]) =
                    (root.as_ref(), access_chain.as_slice())
                {
                    if !dots.is_empty() {
                        let mut parts = vec![first.clone()];
                        for d in dots {
                            match d {
                                ast::AccessExpr::Dot(E::Identifier(id)) => parts.push(id.clone()),
                                _ => return Ok(None),
                            }
                        }
                        let folded = E::CompoundFieldAccess {
                            root: Box::new(E::CompoundIdentifier(parts)),
                            access_chain: vec![ast::AccessExpr::Subscript(sub.clone())],
                        };
                        return self.bind_expr(&folded, scope).map(Some);
                    }
                }
                let [ast::AccessExpr::Subscript(ast::Subscript::Index { index })] =
                    access_chain.as_slice()
                else {
                    return Ok(None);
                };
                let base = self.bind_expr(root, scope)?;
                let DataType::Sys(kind @ (SysType::Int2Vector | SysType::OidVector)) = base.ty()
                else {
                    return Ok(None);
                };
                let i = self.bind_expr(index, scope)?;
                if !(i.ty().is_integer() || i.ty() == DataType::Unknown) {
                    return Err(SqlError::new(
                        code::DATATYPE_MISMATCH,
                        "array subscript must have type integer",
                    ));
                }
                let i = self.coerce(i, &DataType::Int4)?;
                Ok(Some(pg_call(
                    PgFunc::VectorSubscript,
                    vec![base, i],
                    kind.vector_element(),
                )))
            }
            _ => Ok(None),
        }
    }

    /// `ARRAY(SELECT ...)`.
    fn bind_array_subquery(&mut self, q: &ast::Query, scope: &Scope) -> Result<Expr> {
        let (plan, correlation) = self.bind_subquery(q, scope, true)?;
        let mut elem = plan
            .schema()
            .first()
            .map(|c| c.ty.clone())
            .unwrap_or(DataType::Text);
        if elem == DataType::Unknown {
            elem = DataType::Text;
        }
        if matches!(elem, DataType::Array(_)) {
            return unsupported("ARRAY() of an array-valued subquery");
        }
        Ok(Expr::Subquery {
            plan: Box::new(plan),
            kind: SubqueryKind::Array,
            correlation,
            ty: DataType::Array(Box::new(elem)),
        })
    }

    /// `array_agg(x [ORDER BY ...]) [FILTER (WHERE ...)]`, with DISTINCT.
    fn bind_array_agg(&mut self, f: &ast::Function) -> Result<Expr> {
        let ast::FunctionArguments::List(list) = &f.args else {
            return Err(no_function("array_agg", &[]));
        };
        let mut order = Vec::new();
        for c in &list.clauses {
            match c {
                ast::FunctionArgumentClause::OrderBy(o) => order.extend(o.iter().cloned()),
                other => return unsupported(format!("array_agg with {other}")),
            }
        }
        let [ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(arg))] = list.args.as_slice()
        else {
            return Err(no_function("array_agg", &[]));
        };
        let distinct = matches!(
            list.duplicate_treatment,
            Some(ast::DuplicateTreatment::Distinct)
        );
        let Some(mut agg) = self.agg.take() else {
            return Err(SqlError::new(
                code::GROUPING_ERROR,
                "aggregate function array_agg is not allowed here",
            ));
        };
        let result = (|| -> Result<Expr> {
            let input = agg.input.clone();
            if contains_aggregate(arg) || order.iter().any(|o| contains_aggregate(&o.expr)) {
                return Err(SqlError::new(
                    code::GROUPING_ERROR,
                    "aggregate function calls cannot be nested",
                ));
            }
            let mut inputs = std::iter::once(arg)
                .chain(f.filter.as_deref())
                .chain(order.iter().map(|o| &o.expr));
            if inputs.any(super::window::contains_window) {
                return Err(SqlError::new(
                    code::GROUPING_ERROR,
                    "aggregate function calls cannot contain window function calls",
                ));
            }
            let mut a = self.bind_expr(arg, &input)?;
            if a.ty() == DataType::Unknown {
                a = self.coerce(a, &DataType::Text)?;
            }
            if matches!(a.ty(), DataType::Array(_)) {
                return unsupported("array_agg of arrays");
            }
            let filter = match f.filter.as_deref() {
                Some(x) => Some(self.bind_predicate(x, &input, "FILTER")?),
                None => None,
            };
            let mut order_by = Vec::with_capacity(order.len());
            for o in &order {
                let descending = matches!(o.options.sort, Some(ast::OrderBySort::Desc));
                order_by.push(AggOrder {
                    expr: self.bind_expr(&o.expr, &input)?,
                    descending,
                    nulls_first: o.options.nulls_first.unwrap_or(descending),
                });
            }
            let ty = DataType::Array(Box::new(a.ty()));
            let call = AggCall {
                func: AggFunc::ArrayAgg,
                arg: Some(a),
                extra: None,
                distinct,
                filter,
                ty: ty.clone(),
                order_by,
            };
            Ok(Expr::Column {
                index: agg.group_exprs.len() + super::intern(&mut agg.aggs, call),
                ty,
            })
        })();
        self.agg = Some(agg);
        result
    }

    /// Expands the set-returning functions at the top of a select list (`SELECT unnest(x)`)
    /// with `Plan::ProjectSet`; anywhere else they stay `SetReturning` and fail when run.
    pub(super) fn expand_set_returning(&mut self, plan: Plan) -> Result<Plan> {
        let Plan::Project {
            input,
            mut exprs,
            schema,
        } = plan
        else {
            return Ok(plan);
        };
        let mut expand = Vec::new();
        for (i, e) in exprs.iter_mut().enumerate() {
            if let Expr::Func {
                func: Func::Pg(PgFunc::SetReturning(srf)),
                ..
            } = e
            {
                let srf = *srf;
                if let Expr::Func { func, .. } = e {
                    *func = Func::Pg(PgFunc::SetValues(srf));
                }
                expand.push(i);
            }
        }
        let project = Plan::Project {
            input,
            exprs,
            schema: schema.clone(),
        };
        if expand.is_empty() {
            return Ok(project);
        }
        Ok(Plan::ProjectSet {
            input: Box::new(project),
            expand,
            schema,
            ordinality: false,
        })
    }

    /// A set-returning function in FROM (`FROM generate_series(1, 3) AS s`): one column named
    /// after the alias (or the function), over the function's rows. `unnest` of several
    /// arrays is one `unnest` per array, expanded side by side (the shorter padded with NULL),
    /// each column named `unnest`; `WITH ORDINALITY` adds a bigint column `ordinality`
    /// numbering the rows from 1. An alias's column list renames the columns in order (as
    /// PostgreSQL's, more names than columns is 42P10). The arguments may refer to an
    /// enclosing query.
    pub(super) fn bind_table_function(
        &mut self,
        call: &super::FromCall,
        alias: Option<&ast::TableAlias>,
    ) -> Result<Plan> {
        let (_, fname) = super::object_name(call.name)?;
        let one_each: Vec<Vec<ast::FunctionArg>> = if fname == "unnest" && call.args.args.len() > 1
        {
            call.args.args.iter().map(|a| vec![a.clone()]).collect()
        } else {
            vec![call.args.args.clone()]
        };
        let mut exprs = Vec::with_capacity(one_each.len());
        let mut columns = Vec::with_capacity(one_each.len() + 1);
        for args in one_each {
            let e = self.bind_expr(
                &ast::Expr::Function(ast::Function {
                    name: call.name.clone(),
                    uses_odbc_syntax: false,
                    parameters: ast::FunctionArguments::None,
                    args: ast::FunctionArguments::List(ast::FunctionArgumentList {
                        duplicate_treatment: None,
                        args,
                        clauses: Vec::new(),
                    }),
                    filter: None,
                    null_treatment: None,
                    over: None,
                    within_group: Vec::new(),
                }),
                &Scope::default(),
            )?;
            let Expr::Func {
                func: Func::Pg(PgFunc::SetReturning(srf)),
                args: fargs,
                ty,
            } = e
            else {
                return unsupported(format!("table function {fname}"));
            };
            exprs.push(pg_call(PgFunc::SetValues(srf), fargs, ty.clone()));
            columns.push(OutputColumn::new(fname.clone(), ty));
        }
        let qualifier = alias.map(|a| ident_name(&a.name)).unwrap_or(fname);
        if let (Some(a), [only]) = (alias, columns.as_mut_slice()) {
            // A scalar function's one column takes the alias's name.
            only.name = ident_name(&a.name);
        }
        let project = Plan::Project {
            input: Box::new(Plan::Unit),
            exprs,
            schema: columns.clone(),
        };
        if call.ordinality {
            columns.push(OutputColumn::new("ordinality", DataType::Int8));
        }
        let plan = Plan::ProjectSet {
            expand: (0..project.schema().len()).collect(),
            input: Box::new(project),
            schema: columns,
            ordinality: call.ordinality,
        };
        let names = alias.map(|a| a.columns.as_slice()).unwrap_or_default();
        super::rename(plan, &qualifier, names)
    }

    fn bind_regex(
        &mut self,
        left: &ast::Expr,
        right: &ast::Expr,
        case_insensitive: bool,
        negated: bool,
        scope: &Scope,
    ) -> Result<Expr> {
        let l = self.bind_expr(left, scope)?;
        let r = self.bind_expr(right, scope)?;
        let (lt, rt) = (l.ty(), r.ty());
        if !lt.is_string() || !rt.is_string() {
            let sym = match (case_insensitive, negated) {
                (false, false) => "~",
                (true, false) => "~*",
                (false, true) => "!~",
                (true, true) => "!~*",
            };
            return Err(SqlError::new(
                code::UNDEFINED_FUNCTION,
                format!(
                    "operator does not exist: {} {sym} {}",
                    lt.short_name(),
                    rt.short_name()
                ),
            )
            .with_hint("No operator matches the given name and argument types. You might need to add explicit type casts."));
        }
        let l = self.coerce(l, &DataType::Text)?;
        let r = self.coerce(r, &DataType::Text)?;
        Ok(pg_call(
            PgFunc::RegexMatch {
                case_insensitive,
                negated,
            },
            vec![l, r],
            DataType::Bool,
        ))
    }

    /// A cast whose target is a system type or a string type (see `bind_expr_pg`).
    fn bind_cast_pg(&mut self, expr: &ast::Expr, target: DataType, scope: &Scope) -> Result<Expr> {
        if let DataType::Sys(kind) = target {
            if kind.is_reg() {
                if let Some(text) = string_literal(expr) {
                    return self.reg_literal(kind, text);
                }
            }
        }
        let inner = self.bind_expr(expr, scope)?;
        let from = inner.ty();
        match (&from, &target) {
            // reg* to text: the name (invariant 2).
            (DataType::Sys(k), t) if k.is_reg() && t.is_string() => {
                let named = reg_out(*k, inner, DataType::Text);
                return self.explicit_cast(named, &target);
            }
            // text to reg* at run time (invariant 1).
            (f, DataType::Sys(k)) if k.is_reg() && f.is_string() => {
                let arg = self.coerce(inner, &DataType::Text)?;
                let f = match k {
                    SysType::RegClass => PgFunc::ToRegClass { missing_ok: false },
                    SysType::RegType => PgFunc::ToRegType { missing_ok: false },
                    SysType::RegNamespace => PgFunc::ToRegNamespace,
                    SysType::RegRole => PgFunc::ToRegRole,
                    _ => return unsupported(format!("casting text to {}", k.sql_name())),
                };
                return Ok(pg_call(f, vec![arg], target));
            }
            _ => {}
        }
        let sys = matches!(from, DataType::Sys(_)) || matches!(target, DataType::Sys(_));
        if !sys {
            return self.explicit_cast(inner, &target);
        }
        if from == DataType::Unknown {
            return self.coerce(inner, &target);
        }
        if !systypes::castable(&from, &target) {
            return Err(SqlError::new(
                code::CANNOT_COERCE,
                format!(
                    "cannot cast type {} to {}",
                    from.sql_name(),
                    target.sql_name()
                ),
            ));
        }
        if let Expr::Literal { value, ty } = inner {
            let v = crate::types::cast(value, &ty, &target, true)?;
            return Ok(Expr::literal(v, target));
        }
        Ok(Expr::Cast {
            expr: Box::new(inner),
            ty: target,
        })
    }

    /// `'name'::regclass` and friends of a literal, resolved now (invariant 1).
    fn reg_literal(&mut self, kind: SysType, text: &str) -> Result<Expr> {
        let target = DataType::Sys(kind);
        if let Ok(n) = text.trim().parse::<i64>() {
            let v = systypes::oid_value(n, kind)?;
            return Ok(Expr::literal(v, target));
        }
        let oid = match kind {
            SysType::RegClass => {
                let (schema, name) = split_qualified_name(text)?;
                self.catalog
                    .relation_oid(schema.as_deref(), &name)?
                    .ok_or_else(|| {
                        SqlError::new(
                            code::UNDEFINED_TABLE,
                            format!("relation \"{text}\" does not exist"),
                        )
                    })?
            }
            SysType::RegType => crate::expr::pg_functions::lookup_type(text).ok_or_else(|| {
                SqlError::new(
                    code::UNDEFINED_OBJECT,
                    format!("type \"{text}\" does not exist"),
                )
            })?,
            SysType::RegNamespace => crate::expr::pg_functions::lookup_namespace(text)?,
            SysType::RegRole => {
                // Roles live in the catalog: resolved per statement by the executor.
                return Ok(pg_call(
                    PgFunc::ToRegRole,
                    vec![Expr::literal(Value::Text(text.to_string()), DataType::Text)],
                    target,
                ));
            }
            _ if text.trim() == "-" => 0,
            _ => {
                return Err(SqlError::new(
                    code::UNDEFINED_FUNCTION,
                    format!("function \"{text}\" does not exist"),
                ))
            }
        };
        Ok(Expr::literal(Value::Int(oid as i64), target))
    }

    /// Coerces a function argument to `ty`, or fails as PostgreSQL does for a call with no
    /// matching signature.
    fn pg_arg(&mut self, e: Expr, ty: &DataType, name: &str, types: &[DataType]) -> Result<Expr> {
        let from = e.ty();
        let oidish = |t: &DataType| matches!(t, DataType::Sys(s) if s.is_oid_like());
        let ok = from == *ty
            || from == DataType::Unknown
            || (oidish(ty) && (from.is_integer() || oidish(&from)))
            || (ty.is_string() && from.is_string())
            || (ty.is_integer() && from.is_integer());
        if !ok {
            return Err(no_function(name, types));
        }
        self.coerce(e, ty)
    }

    fn bind_function_pg(&mut self, f: &ast::Function, scope: &Scope) -> Result<Option<Expr>> {
        let name = function_name(f)?;
        if f.over.is_some() {
            return Ok(None);
        }
        if name == "array" {
            if let ast::FunctionArguments::Subquery(q) = &f.args {
                return self.bind_array_subquery(q, scope).map(Some);
            }
        }
        if name == "array_agg" {
            return self.bind_array_agg(f).map(Some);
        }
        if !is_pg_function(&name) || f.filter.is_some() {
            return Ok(None);
        }
        let args = match &f.args {
            ast::FunctionArguments::None => Vec::new(),
            ast::FunctionArguments::List(list)
                if list.clauses.is_empty() && list.duplicate_treatment.is_none() =>
            {
                let mut out = Vec::new();
                for a in &list.args {
                    match a {
                        ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => out.push(e),
                        _ => return Ok(None),
                    }
                }
                out
            }
            _ => return Ok(None),
        };
        // current_setting needs its literal argument, not a bound one.
        if name == "current_setting" {
            return self.current_setting(&args).map(Some);
        }
        let mut bound = Vec::with_capacity(args.len());
        for a in &args {
            bound.push(self.bind_expr(a, scope)?);
        }
        let types: Vec<DataType> = bound.iter().map(|b| b.ty()).collect();
        let arity = |n: std::ops::RangeInclusive<usize>| -> Result<()> {
            if n.contains(&types.len()) {
                Ok(())
            } else {
                Err(no_function(&name, &types))
            }
        };
        let text = DataType::Text;
        let int4 = DataType::Int4;
        let boolean = DataType::Bool;
        let oid = oid_ty();
        let name_ty = DataType::Sys(SysType::Name);
        // Coerces `bound` to the signature `sig` (extra trailing arguments are rejected by
        // `arity` first).
        let args_as = |b: &mut Binder, bound: Vec<Expr>, sig: &[&DataType]| -> Result<Vec<Expr>> {
            let mut out = Vec::with_capacity(bound.len());
            for (e, t) in bound.into_iter().zip(sig) {
                out.push(b.pg_arg(e, t, &name, &types)?);
            }
            Ok(out)
        };
        let e = match name.as_str() {
            "pg_table_is_visible" => {
                arity(1..=1)?;
                let a = args_as(self, bound, &[&oid])?;
                pg_call(PgFunc::TableIsVisible, a, boolean)
            }
            // Everything but tables lives in pg_catalog, which is always on the search path.
            "pg_type_is_visible"
            | "pg_function_is_visible"
            | "pg_collation_is_visible"
            | "pg_opclass_is_visible"
            | "pg_operator_is_visible"
            | "pg_conversion_is_visible" => {
                arity(1..=1)?;
                args_as(self, bound, &[&oid])?;
                Expr::literal(Value::Bool(true), boolean)
            }
            "pg_get_userbyid" => {
                arity(1..=1)?;
                let a = args_as(self, bound, &[&oid])?;
                pg_call(PgFunc::GetUserById, a, name_ty)
            }
            "format_type" => {
                arity(2..=2)?;
                let a = args_as(self, bound, &[&oid, &int4])?;
                pg_call(PgFunc::FormatType, a, text)
            }
            "pg_get_expr" => {
                arity(2..=3)?;
                let a = args_as(self, bound, &[&text, &oid, &boolean])?;
                pg_call(PgFunc::GetExpr, a, text)
            }
            "pg_get_indexdef" => {
                if types.len() == 2 {
                    return Err(no_function(&name, &types));
                }
                arity(1..=3)?;
                let a = args_as(self, bound, &[&oid, &int4, &boolean])?;
                pg_call(PgFunc::GetIndexDef, a, text)
            }
            "pg_get_constraintdef" => {
                arity(1..=2)?;
                let a = args_as(self, bound, &[&oid, &boolean])?;
                pg_call(PgFunc::GetConstraintDef, a, text)
            }
            "obj_description" | "col_description" | "shobj_description" => {
                let sig: &[&DataType] = match name.as_str() {
                    "col_description" => &[&oid, &int4],
                    "shobj_description" => &[&oid, &name_ty],
                    _ => &[&oid, &name_ty],
                };
                if name == "obj_description" {
                    arity(1..=2)?;
                } else {
                    arity(2..=2)?;
                }
                args_as(self, bound, sig)?;
                Expr::literal(Value::Null, text)
            }
            "pg_encoding_to_char" => {
                arity(1..=1)?;
                let a = args_as(self, bound, &[&int4])?;
                pg_call(PgFunc::EncodingToChar, a, name_ty)
            }
            "has_table_privilege"
            | "has_schema_privilege"
            | "has_database_privilege"
            | "has_column_privilege"
            | "has_sequence_privilege"
            | "has_any_column_privilege"
            | "has_function_privilege"
            | "pg_has_role" => {
                arity(2..=4)?;
                Expr::literal(Value::Bool(true), boolean)
            }
            "current_schemas" => {
                arity(1..=1)?;
                let a = args_as(self, bound, &[&boolean])?;
                // Without array values: the array's text form (implicit schemas first, as
                // PostgreSQL lists them).
                match a.into_iter().next() {
                    Some(Expr::Literal {
                        value: Value::Bool(implicit),
                        ..
                    }) => Expr::literal(
                        Value::Text(if implicit {
                            "{pg_catalog,public}".into()
                        } else {
                            "{public}".into()
                        }),
                        text,
                    ),
                    _ => return unsupported("current_schemas() of a non-constant argument"),
                }
            }
            "pg_backend_pid" => {
                arity(0..=0)?;
                let pid = i32::try_from(std::process::id()).unwrap_or(i32::MAX);
                Expr::literal(Value::Int(pid as i64), int4)
            }
            "quote_ident" => {
                arity(1..=1)?;
                let a = args_as(self, bound, &[&text])?;
                pg_call(PgFunc::QuoteIdent, a, text)
            }
            "pg_get_serial_sequence" => {
                arity(2..=2)?;
                let a = args_as(self, bound, &[&text, &text])?;
                pg_call(PgFunc::GetSerialSequence, a, text)
            }
            "pg_relation_is_publishable" | "pg_is_other_temp_schema" => {
                arity(1..=1)?;
                Expr::literal(Value::Bool(false), boolean)
            }
            "pg_is_in_recovery" => {
                arity(0..=0)?;
                Expr::literal(Value::Bool(false), boolean)
            }
            "pg_my_temp_schema" => {
                arity(0..=0)?;
                Expr::literal(Value::Int(0), oid)
            }
            "pg_get_statisticsobjdef_columns" => {
                arity(1..=1)?;
                args_as(self, bound, &[&oid])?;
                Expr::literal(Value::Null, text)
            }
            "to_regclass" | "to_regtype" | "to_regnamespace" | "to_regrole" => {
                arity(1..=1)?;
                let a = args_as(self, bound, &[&text])?;
                let (f, kind) = match name.as_str() {
                    "to_regclass" => (PgFunc::ToRegClass { missing_ok: true }, SysType::RegClass),
                    "to_regtype" => (PgFunc::ToRegType { missing_ok: true }, SysType::RegType),
                    "to_regnamespace" => (PgFunc::ToRegNamespace, SysType::RegNamespace),
                    _ => (PgFunc::ToRegRole, SysType::RegRole),
                };
                pg_call(f, a, DataType::Sys(kind))
            }
            "array_to_string" => {
                arity(2..=3)?;
                let mut it = bound.into_iter();
                let arr = it.next().ok_or_else(|| no_function(&name, &types))?;
                if !matches!(arr.ty(), DataType::Array(_)) {
                    return Err(no_function(&name, &types));
                }
                let mut a = vec![arr];
                for rest in it {
                    a.push(self.pg_arg(rest, &text, &name, &types)?);
                }
                pg_call(PgFunc::ArrayToString, a, text)
            }
            "json_build_object" => {
                if !types.len().is_multiple_of(2) {
                    return Err(SqlError::new(
                        code::INVALID_PARAMETER_VALUE,
                        "argument list must have even number of elements",
                    ));
                }
                let mut a = Vec::with_capacity(bound.len());
                for e in bound {
                    a.push(if e.ty() == DataType::Unknown {
                        self.coerce(e, &text)?
                    } else {
                        e
                    });
                }
                pg_call(PgFunc::JsonBuildObject, a, DataType::Json)
            }
            "unnest" | "generate_subscripts" => {
                if name == "unnest" {
                    arity(1..=1)?;
                } else {
                    arity(2..=2)?;
                }
                let arg_ty = types.first().cloned().unwrap_or(DataType::Unknown);
                let srf = if name == "unnest" {
                    Srf::Unnest
                } else {
                    Srf::Subscripts {
                        zero_based: matches!(
                            arg_ty,
                            DataType::Sys(SysType::Int2Vector | SysType::OidVector)
                        ),
                    }
                };
                let elem = srf_element(srf, &arg_ty).ok_or_else(|| no_function(&name, &types))?;
                let mut it = bound.into_iter();
                let mut a: Vec<Expr> = it.next().into_iter().collect();
                for dim in it {
                    a.push(self.pg_arg(dim, &int4, &name, &types)?);
                }
                pg_call(PgFunc::SetReturning(srf), a, elem)
            }
            "pg_partition_ancestors" => {
                arity(1..=1)?;
                let regclass = DataType::Sys(SysType::RegClass);
                let a = args_as(self, bound, &[&regclass])?;
                pg_call(PgFunc::SetReturning(Srf::Ancestors), a, regclass)
            }
            "pg_get_triggerdef" => {
                arity(1..=2)?;
                args_as(self, bound, &[&oid, &boolean])?;
                // Cairn has no triggers, and PostgreSQL answers NULL for an OID that names none.
                Expr::literal(Value::Null, text)
            }
            "generate_series" => {
                arity(2..=3)?;
                let mut ty = DataType::Int4;
                for t in &types {
                    match t {
                        DataType::Int8 => ty = DataType::Int8,
                        DataType::Int2 | DataType::Int4 | DataType::Unknown => {}
                        _ => return Err(no_function(&name, &types)),
                    }
                }
                let mut a = Vec::with_capacity(bound.len());
                for e in bound {
                    a.push(self.coerce(e, &ty)?);
                }
                pg_call(PgFunc::SetReturning(Srf::Series), a, ty)
            }
            _ => return Ok(None),
        };
        Ok(Some(e))
    }

    /// `current_setting(name [, missing_ok])`: the session's value, folded now (the session
    /// binds every statement again when it runs, so a later SET is seen).
    fn current_setting(&mut self, args: &[&ast::Expr]) -> Result<Expr> {
        let (name_arg, missing_ok) = match args {
            [n] => (n, false),
            [n, m] => {
                let m = self.bind_expr(m, &Scope::default())?;
                let ok = match m {
                    Expr::Literal {
                        value: Value::Bool(b),
                        ..
                    } => b,
                    _ => return unsupported("current_setting() with a non-constant missing_ok"),
                };
                (n, ok)
            }
            _ => {
                return Err(no_function("current_setting", &[]));
            }
        };
        let Some(wanted) = string_literal(name_arg) else {
            return unsupported("current_setting() of a non-constant name");
        };
        let key = wanted.to_lowercase();
        let value = self
            .session
            .settings()
            .into_iter()
            .find(|(k, _)| k.to_lowercase() == key)
            .map(|(_, v)| v);
        match value {
            Some(v) => Ok(Expr::literal(Value::Text(v), DataType::Text)),
            None if missing_ok => Ok(Expr::literal(Value::Null, DataType::Text)),
            None => Err(SqlError::new(
                code::UNDEFINED_OBJECT,
                format!("unrecognized configuration parameter \"{wanted}\""),
            )),
        }
    }

    /// Wraps `reg*` output columns so they print names (invariant 2).
    pub(super) fn name_reg_outputs(&mut self, plan: Plan) -> Plan {
        let schema = plan.schema();
        let is_reg = |c: &OutputColumn| matches!(c.ty, DataType::Sys(s) if s.is_reg());
        if !schema.iter().any(|c| !c.hidden && is_reg(c)) {
            return plan;
        }
        let exprs = schema
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let col = Expr::Column {
                    index: i,
                    ty: c.ty.clone(),
                };
                match c.ty {
                    DataType::Sys(k) if k.is_reg() => reg_out(k, col, c.ty.clone()),
                    _ => col,
                }
            })
            .collect();
        Plan::Project {
            input: Box::new(plan),
            exprs,
            schema,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualified_names_split_like_regclassin() {
        assert_eq!(
            split_qualified_name("pg_catalog.pg_class").unwrap(),
            (Some("pg_catalog".into()), "pg_class".into())
        );
        assert_eq!(
            split_qualified_name("\"My\"\"T\"").unwrap(),
            (None, "My\"T".into())
        );
        assert_eq!(split_qualified_name("T").unwrap(), (None, "t".into()));
        assert!(split_qualified_name("a.").is_err());
        assert!(split_qualified_name("\"a").is_err());
        assert!(split_qualified_name("").is_err());
    }
}
