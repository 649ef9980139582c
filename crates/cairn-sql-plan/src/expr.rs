//! Bound scalar expressions ([`Expr`]) and their evaluation over one input row.
//!
//! Role: the binder turns sqlparser's AST into `Expr`s whose column references are positions in
//! the input row and whose every node carries its result [`DataType`]; the executor calls
//! [`Expr::eval`] per row. Evaluation is pure: everything outside the row (parameters, the
//! statement timestamp, session values) comes in through [`EvalContext`].
//!
//! Invariants:
//! 1. Operands of a binary operator have already been coerced to one common type by the binder
//!    (it inserts `Cast` nodes), so `eval` never guesses types.
//! 2. SQL three-valued logic: comparisons and arithmetic with a NULL operand yield NULL; `AND`
//!    and `OR` follow the truth tables (`false AND NULL = false`, `true OR NULL = true`).
//!    Test: `three_valued_logic`.
//! 3. Integer arithmetic is checked: overflow of the result type is SQLSTATE 22003, never a
//!    wrap-around or a panic. Test: `integer_overflow_is_an_error`.

use std::cmp::Ordering;

use crate::error::{code, Result, SqlError};
use crate::plan::Plan;
use crate::types::{cast_at, compare, DataType, Value};

pub mod builtin;
pub use builtin::{Builtin, Volatile};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    And,
    Or,
    Concat,
    Like,
    NotLike,
    ILike,
    NotILike,
}

impl BinaryOp {
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eq
                | BinaryOp::NotEq
                | BinaryOp::Lt
                | BinaryOp::LtEq
                | BinaryOp::Gt
                | BinaryOp::GtEq
        )
    }

    /// The comparison with its operands swapped (`a < b` = `b > a`).
    pub fn flipped(self) -> BinaryOp {
        match self {
            BinaryOp::Lt => BinaryOp::Gt,
            BinaryOp::LtEq => BinaryOp::GtEq,
            BinaryOp::Gt => BinaryOp::Lt,
            BinaryOp::GtEq => BinaryOp::LtEq,
            other => other,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Eq => "=",
            BinaryOp::NotEq => "<>",
            BinaryOp::Lt => "<",
            BinaryOp::LtEq => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::GtEq => ">=",
            BinaryOp::And => "AND",
            BinaryOp::Or => "OR",
            BinaryOp::Concat => "||",
            BinaryOp::Like => "~~",
            BinaryOp::NotLike => "!~~",
            BinaryOp::ILike => "~~*",
            BinaryOp::NotILike => "!~~*",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Not,
}

/// Built-in scalar functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Func {
    Abs,
    Lower,
    Upper,
    Length,
    OctetLength,
    Substr,
    Trim,
    LTrim,
    RTrim,
    Replace,
    Concat,
    Coalesce,
    NullIf,
    Greatest,
    Least,
    Round,
    Floor,
    Ceil,
    Sqrt,
    Power,
    Sign,
    Strpos,
    Left,
    Right,
    Repeat,
    Reverse,
    /// Catalog and introspection functions and the regular-expression operators
    /// (`expr::pg_functions`).
    Pg(PgFunc),
    /// A constant the session knows (`version()`, `current_database()`, ...), already
    /// resolved by the binder into argument 0.
    SessionConstant,
    /// Sequence functions, evaluated by the executor (`SubqueryRunner::call_host`).
    NextVal,
    CurrVal,
    SetVal,
    LastVal,
    /// Functions and operators of NUMERIC, date/time, UUID, JSON and array types
    /// (`expr::builtin`).
    Builtin(Builtin),
}

impl Func {
    /// Whether a call depends on nothing but its arguments (PostgreSQL's IMMUTABLE), so a
    /// call with constant arguments can be evaluated once at planning.
    pub fn is_immutable(self) -> bool {
        match self {
            Func::Pg(f) => matches!(
                f,
                PgFunc::RegexMatch { .. } | PgFunc::QuoteIdent | PgFunc::ArrayToString
            ),
            Func::Builtin(b) => !matches!(
                b,
                Builtin::Now
                    | Builtin::ClockTimestamp
                    | Builtin::CurrentDate
                    | Builtin::LocalTimestamp
                    | Builtin::LocalTime
                    | Builtin::Age
                    | Builtin::GenRandomUuid
                    | Builtin::Random
            ),
            Func::SessionConstant
            | Func::NextVal
            | Func::CurrVal
            | Func::SetVal
            | Func::LastVal => false,
            Func::Abs
            | Func::Lower
            | Func::Upper
            | Func::Length
            | Func::OctetLength
            | Func::Substr
            | Func::Trim
            | Func::LTrim
            | Func::RTrim
            | Func::Replace
            | Func::Concat
            | Func::Coalesce
            | Func::NullIf
            | Func::Greatest
            | Func::Least
            | Func::Round
            | Func::Floor
            | Func::Ceil
            | Func::Sqrt
            | Func::Power
            | Func::Sign
            | Func::Strpos
            | Func::Left
            | Func::Right
            | Func::Repeat
            | Func::Reverse => true,
        }
    }
}

/// A bound expression. Every variant knows its result type ([`Expr::ty`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// The value at `index` of the input row.
    Column {
        index: usize,
        ty: DataType,
    },
    Literal {
        value: Value,
        ty: DataType,
    },
    /// `$n` (0-based `index`).
    Param {
        index: usize,
        ty: DataType,
    },
    Unary {
        op: UnaryOp,
        expr: Box<Expr>,
        ty: DataType,
    },
    Binary {
        op: BinaryOp,
        left: Box<Expr>,
        right: Box<Expr>,
        ty: DataType,
    },
    IsNull {
        expr: Box<Expr>,
        negated: bool,
    },
    /// `IS [NOT] TRUE / FALSE` (never NULL).
    IsBool {
        expr: Box<Expr>,
        value: bool,
        negated: bool,
    },
    IsDistinctFrom {
        left: Box<Expr>,
        right: Box<Expr>,
        negated: bool,
    },
    InList {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    Case {
        operand: Option<Box<Expr>>,
        whens: Vec<(Expr, Expr)>,
        else_result: Option<Box<Expr>>,
        ty: DataType,
    },
    Cast {
        expr: Box<Expr>,
        ty: DataType,
    },
    Func {
        func: Func,
        args: Vec<Expr>,
        ty: DataType,
    },
    /// The value of slot `slot` of the enclosing query's row, inside a correlated subquery.
    OuterRef {
        slot: usize,
        ty: DataType,
    },
    /// A subquery. `correlation[k]` (evaluated over the current row) supplies `OuterRef`
    /// slot `k` inside `plan`; an uncorrelated subquery has none and runs once per statement.
    Subquery {
        plan: Box<Plan>,
        kind: SubqueryKind,
        correlation: Vec<Expr>,
        ty: DataType,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum SubqueryKind {
    /// `(SELECT x ...)`: at most one row (21000 otherwise), NULL when none.
    Scalar,
    /// `[NOT] EXISTS (SELECT ...)`.
    Exists { negated: bool },
    /// `expr [NOT] IN (SELECT x ...)`.
    In { expr: Box<Expr>, negated: bool },
    /// `ARRAY(SELECT x ...)`: the column's values as an array (empty, not NULL, for no rows).
    Array,
}

/// Runs subquery plans for the evaluator (implemented by the executor).
pub trait SubqueryRunner {
    /// The rows of `plan` with `outer` bound to its `OuterRef` slots (shared: an
    /// uncorrelated subquery's rows are computed once per statement).
    fn run_subquery(&self, plan: &Plan, outer: &[Value]) -> Result<std::rc::Rc<Vec<Vec<Value>>>>;

    /// Whether a row of `plan` has `v` (not NULL) as its first value: `Some(true)` if one
    /// equals it, `None` (SQL NULL) if none does but one is NULL, else `Some(false)`. The
    /// default compares row by row; the executor hashes an uncorrelated subquery's values.
    fn subquery_contains(&self, plan: &Plan, outer: &[Value], v: &Value) -> Result<Option<bool>> {
        Ok(contains_value(&self.run_subquery(plan, outer)?, v))
    }

    /// Functions with effects outside the row (sequences).
    fn call_host(&self, func: Func, args: &[Value]) -> Result<Value> {
        let _ = args;
        Err(SqlError::not_supported(format!("{func:?} here")))
    }
}

/// What evaluation needs besides the row.
#[derive(Debug, Default)]
pub struct EvalContext<'a> {
    /// Bound parameter values (`$1` = `params[0]`), already in their parameter types.
    pub params: &'a [Value],
    /// Values of the enclosing row's correlated columns (`OuterRef` slots).
    pub outer: &'a [Value],
    /// Runs subqueries; `None` where none can appear (constant folding).
    pub subqueries: Option<&'a dyn SubqueryRunner>,
    /// The transaction timestamp (`now()`), in µs since 2000-01-01 UTC.
    pub now_micros: i64,
    /// Wall clock and randomness (`clock_timestamp()`, `gen_random_uuid()`); `None` in pure
    /// contexts, where those functions fall back to `now_micros` or fail.
    pub volatile: Option<&'a dyn Volatile>,
}

impl std::fmt::Debug for dyn SubqueryRunner + '_ {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SubqueryRunner")
    }
}

impl Expr {
    pub fn literal(value: Value, ty: DataType) -> Expr {
        Expr::Literal { value, ty }
    }

    pub fn ty(&self) -> DataType {
        match self {
            Expr::Column { ty, .. }
            | Expr::Literal { ty, .. }
            | Expr::Param { ty, .. }
            | Expr::Unary { ty, .. }
            | Expr::Binary { ty, .. }
            | Expr::Case { ty, .. }
            | Expr::Cast { ty, .. }
            | Expr::Func { ty, .. }
            | Expr::OuterRef { ty, .. }
            | Expr::Subquery { ty, .. } => ty.clone(),
            Expr::IsNull { .. }
            | Expr::IsBool { .. }
            | Expr::IsDistinctFrom { .. }
            | Expr::InList { .. } => DataType::Bool,
        }
    }

    /// Whether the expression has the same value wherever and whenever it is evaluated: no
    /// row column, parameter, outer value or subquery, and only immutable functions (not
    /// `now()`, which a cached plan outlives, nor sequences, randomness, session values or
    /// the catalog). TimeZone is fixed at UTC, so casts are immutable too, but for text to
    /// a date/time type.
    pub fn is_constant(&self) -> bool {
        let mut constant = true;
        self.visit(&mut |e| match e {
            Expr::Column { .. }
            | Expr::Param { .. }
            | Expr::OuterRef { .. }
            | Expr::Subquery { .. } => constant = false,
            Expr::Func { func, .. } if !func.is_immutable() => constant = false,
            // Text to a date/time type reads the clock for 'now', 'today', 'tomorrow' and
            // 'yesterday'.
            Expr::Cast { expr, ty }
                if expr.ty().is_string()
                    && (ty.is_datetime() || matches!(ty, DataType::Time(_))) =>
            {
                constant = false
            }
            _ => {}
        });
        constant
    }

    /// Replaces every constant subexpression ([`Expr::is_constant`]) by its value, so a
    /// filter computes `date '1998-12-01' - interval '90 days'` once per plan instead of once
    /// per row, and the estimator sees a value it can look up in a histogram. A subexpression
    /// whose evaluation fails is left as it is: the error belongs to the rows that reach it
    /// (`CASE WHEN false THEN 1/0 END` must not fail), not to planning.
    pub fn fold_constants(&mut self) {
        if matches!(self, Expr::Literal { .. }) {
            return;
        }
        if self.is_constant() {
            if let Ok(value) = self.eval(&[], &EvalContext::default()) {
                *self = Expr::Literal {
                    value,
                    ty: self.ty(),
                };
                return;
            }
        }
        for c in self.children_mut() {
            c.fold_constants();
        }
        self.compare_dates_as_dates();
    }

    /// `date_col::timestamp OP timestamp 'T'` becomes `date_col OP' date 'D'` with the same
    /// truth on every row, so a date column's index and statistics serve the comparison
    /// (`l_shipdate < date '1994-01-01' + interval '1 year'` is such a comparison: date plus
    /// interval is a timestamp). A date `d` is midnight as a timestamp, so with `F` the day
    /// of `T` and `C` the first day at or after `T`: `d::ts < T` is `d < C`, `<= T` is
    /// `<= F`, `> T` is `> F`, `>= T` is `>= C`, and `= T` is `= F` when `T` is midnight
    /// (left alone otherwise, as are infinite timestamps).
    fn compare_dates_as_dates(&mut self) {
        let Expr::Binary {
            op, left, right, ..
        } = self
        else {
            return;
        };
        if !matches!(
            op,
            BinaryOp::Eq | BinaryOp::Lt | BinaryOp::LtEq | BinaryOp::Gt | BinaryOp::GtEq
        ) {
            return;
        }
        // Normalised to `cast OP literal`.
        let (cast, lit, op) = match (&**left, &**right) {
            (Expr::Cast { .. }, Expr::Literal { .. }) => (&**left, &**right, *op),
            (Expr::Literal { .. }, Expr::Cast { .. }) => (&**right, &**left, op.flipped()),
            _ => return,
        };
        let (
            Expr::Cast {
                expr: date_expr,
                ty: DataType::Timestamp(_),
            },
            Expr::Literal {
                value: Value::Int(t),
                ty: DataType::Timestamp(_),
            },
        ) = (cast, lit)
        else {
            return;
        };
        if date_expr.ty() != DataType::Date
            || *t == crate::types::datetime::TS_NOBEGIN
            || *t == crate::types::datetime::TS_NOEND
        {
            return;
        }
        let day = crate::types::datetime::USECS_PER_DAY;
        let floor = t.div_euclid(day);
        let midnight = t.rem_euclid(day) == 0;
        let ceil = if midnight { floor } else { floor + 1 };
        let bound = match op {
            BinaryOp::Lt | BinaryOp::GtEq => ceil,
            BinaryOp::Eq if !midnight => return,
            _ => floor,
        };
        let narrowed = Expr::Binary {
            op,
            left: date_expr.clone(),
            right: Box::new(Expr::Literal {
                value: Value::Int(bound),
                ty: DataType::Date,
            }),
            ty: DataType::Bool,
        };
        *self = narrowed;
    }

    /// `(left, right)` when this is `left = right`.
    pub fn as_equality(&self) -> Option<(&Expr, &Expr)> {
        match self {
            Expr::Binary {
                op: BinaryOp::Eq,
                left,
                right,
                ..
            } => Some((left, right)),
            _ => None,
        }
    }

    /// The expressions directly below this one (a subquery's `IN` operand and correlation
    /// values, not the expressions inside its plan).
    pub fn children(&self) -> Vec<&Expr> {
        match self {
            Expr::Column { .. }
            | Expr::Literal { .. }
            | Expr::Param { .. }
            | Expr::OuterRef { .. } => Vec::new(),
            Expr::Subquery {
                kind, correlation, ..
            } => {
                let mut out: Vec<&Expr> = correlation.iter().collect();
                if let SubqueryKind::In { expr, .. } = kind {
                    out.insert(0, expr);
                }
                out
            }
            Expr::Unary { expr, .. }
            | Expr::IsNull { expr, .. }
            | Expr::IsBool { expr, .. }
            | Expr::Cast { expr, .. } => vec![expr],
            Expr::Binary { left, right, .. } | Expr::IsDistinctFrom { left, right, .. } => {
                vec![left, right]
            }
            Expr::InList { expr, list, .. } => std::iter::once(&**expr).chain(list).collect(),
            Expr::Case {
                operand,
                whens,
                else_result,
                ..
            } => operand
                .iter()
                .map(|o| &**o)
                .chain(whens.iter().flat_map(|(w, t)| [w, t]))
                .chain(else_result.iter().map(|e| &**e))
                .collect(),
            Expr::Func { args, .. } => args.iter().collect(),
        }
    }

    /// As [`Expr::children`], mutably.
    pub fn children_mut(&mut self) -> Vec<&mut Expr> {
        match self {
            Expr::Column { .. }
            | Expr::Literal { .. }
            | Expr::Param { .. }
            | Expr::OuterRef { .. } => Vec::new(),
            Expr::Subquery {
                kind, correlation, ..
            } => {
                let mut out: Vec<&mut Expr> = Vec::new();
                if let SubqueryKind::In { expr, .. } = kind {
                    out.push(expr);
                }
                out.extend(correlation.iter_mut());
                out
            }
            Expr::Unary { expr, .. }
            | Expr::IsNull { expr, .. }
            | Expr::IsBool { expr, .. }
            | Expr::Cast { expr, .. } => vec![expr],
            Expr::Binary { left, right, .. } | Expr::IsDistinctFrom { left, right, .. } => {
                vec![left, right]
            }
            Expr::InList { expr, list, .. } => std::iter::once(&mut **expr)
                .chain(list.iter_mut())
                .collect(),
            Expr::Case {
                operand,
                whens,
                else_result,
                ..
            } => operand
                .iter_mut()
                .map(|o| &mut **o)
                .chain(whens.iter_mut().flat_map(|(w, t)| [w, t]))
                .chain(else_result.iter_mut().map(|e| &mut **e))
                .collect(),
            Expr::Func { args, .. } => args.iter_mut().collect(),
        }
    }

    /// Calls `f` on this node and every node below it.
    pub fn visit(&self, f: &mut dyn FnMut(&Expr)) {
        f(self);
        for c in self.children() {
            c.visit(f);
        }
    }

    /// Marks in `columns` (one flag per position of the row this expression reads) the
    /// positions it reads through `Expr::Column`; a position outside `columns`, which a
    /// well-formed plan never has, marks them all, so a mistake costs speed, not results.
    pub fn mark_columns(&self, columns: &mut [bool]) {
        self.visit(&mut |x| {
            if let Expr::Column { index, .. } = x {
                match columns.get_mut(*index) {
                    Some(n) => *n = true,
                    None => columns.iter_mut().for_each(|n| *n = true),
                }
            }
        });
    }

    /// Calls `f` on the plan of every subquery in this expression (not on subqueries inside
    /// those plans).
    pub fn subquery_plans_mut(&mut self, f: &mut dyn FnMut(&mut Plan)) {
        if let Expr::Subquery { plan, .. } = self {
            f(plan);
        }
        for c in self.children_mut() {
            c.subquery_plans_mut(f);
        }
    }

    /// Rewrites every column reference with `f` (used when an expression moves above or below
    /// an operator that changes the row layout).
    pub fn map_columns(&mut self, f: &mut dyn FnMut(usize) -> usize) {
        if let Expr::Column { index, .. } = self {
            *index = f(*index);
        }
        for c in self.children_mut() {
            c.map_columns(f);
        }
    }

    /// The highest column index referenced, if any.
    pub fn max_column(&self) -> Option<usize> {
        let mut max = None;
        self.visit(&mut |e| {
            if let Expr::Column { index, .. } = e {
                max = Some(max.map_or(*index, |m: usize| m.max(*index)));
            }
        });
        max
    }

    /// [`Expr::eval`], borrowing instead of copying when the value is already there (a
    /// column of `row`, a literal): a comparison or `LIKE` on a column reads it in place.
    pub fn eval_cow<'v>(
        &'v self,
        row: &'v [Value],
        ctx: &EvalContext,
    ) -> Result<std::borrow::Cow<'v, Value>> {
        use std::borrow::Cow;
        match self {
            Expr::Column { index, .. } => row
                .get(*index)
                .map(Cow::Borrowed)
                .ok_or_else(|| SqlError::internal(format!("column {index} out of the row"))),
            Expr::Literal { value, .. } => Ok(Cow::Borrowed(value)),
            _ => self.eval(row, ctx).map(Cow::Owned),
        }
    }

    pub fn eval(&self, row: &[Value], ctx: &EvalContext) -> Result<Value> {
        match self {
            Expr::Column { index, .. } => row
                .get(*index)
                .cloned()
                .ok_or_else(|| SqlError::internal(format!("column {index} out of the row"))),
            Expr::Literal { value, .. } => Ok(value.clone()),
            Expr::Param { index, .. } => ctx.params.get(*index).cloned().ok_or_else(|| {
                SqlError::new(
                    code::UNDEFINED_PARAMETER,
                    format!("there is no parameter ${}", index + 1),
                )
            }),
            Expr::Unary { op, expr, ty } => {
                let v = expr.eval(row, ctx)?;
                match (op, v) {
                    (_, Value::Null) => Ok(Value::Null),
                    (UnaryOp::Not, Value::Bool(b)) => Ok(Value::Bool(!b)),
                    (UnaryOp::Neg, Value::Int(i)) => check_int(i.checked_neg(), ty),
                    (UnaryOp::Neg, Value::Float(f)) => Ok(Value::Float(-f)),
                    (UnaryOp::Neg, v @ (Value::Numeric(_) | Value::Interval(_))) => {
                        builtin::negate(v)
                    }
                    (op, v) => Err(SqlError::internal(format!("cannot apply {op:?} to {v:?}"))),
                }
            }
            Expr::Binary {
                op,
                left,
                right,
                ty,
            } => match op {
                BinaryOp::And => {
                    let l = left.eval(row, ctx)?.as_bool()?;
                    if l == Some(false) {
                        return Ok(Value::Bool(false));
                    }
                    let r = right.eval(row, ctx)?.as_bool()?;
                    Ok(match (l, r) {
                        (_, Some(false)) => Value::Bool(false),
                        (Some(true), Some(true)) => Value::Bool(true),
                        _ => Value::Null,
                    })
                }
                BinaryOp::Or => {
                    let l = left.eval(row, ctx)?.as_bool()?;
                    if l == Some(true) {
                        return Ok(Value::Bool(true));
                    }
                    let r = right.eval(row, ctx)?.as_bool()?;
                    Ok(match (l, r) {
                        (_, Some(true)) => Value::Bool(true),
                        (Some(false), Some(false)) => Value::Bool(false),
                        _ => Value::Null,
                    })
                }
                _ => {
                    let l = left.eval_cow(row, ctx)?;
                    let r = right.eval_cow(row, ctx)?;
                    match binary_by_ref(*op, &l, &r)? {
                        Some(v) => Ok(v),
                        None => binary_owned(*op, l.into_owned(), r.into_owned(), ty),
                    }
                }
            },
            Expr::IsNull { expr, negated } => {
                Ok(Value::Bool(expr.eval(row, ctx)?.is_null() != *negated))
            }
            Expr::IsBool {
                expr,
                value,
                negated,
            } => {
                let v = expr.eval(row, ctx)?.as_bool()?;
                Ok(Value::Bool((v == Some(*value)) != *negated))
            }
            Expr::IsDistinctFrom {
                left,
                right,
                negated,
            } => {
                let l = left.eval(row, ctx)?;
                let r = right.eval(row, ctx)?;
                let distinct = match (l.is_null(), r.is_null()) {
                    (true, true) => false,
                    (true, false) | (false, true) => true,
                    _ => compare(&l, &r) != Some(Ordering::Equal),
                };
                Ok(Value::Bool(distinct != *negated))
            }
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                let v = expr.eval(row, ctx)?;
                if v.is_null() {
                    return Ok(Value::Null);
                }
                let mut saw_null = false;
                for item in list {
                    let x = item.eval(row, ctx)?;
                    match compare(&v, &x) {
                        Some(Ordering::Equal) => return Ok(Value::Bool(!*negated)),
                        None => saw_null = true,
                        _ => {}
                    }
                }
                Ok(if saw_null {
                    Value::Null
                } else {
                    Value::Bool(*negated)
                })
            }
            Expr::Case {
                operand,
                whens,
                else_result,
                ..
            } => {
                let subject = match operand {
                    Some(o) => Some(o.eval(row, ctx)?),
                    None => None,
                };
                for (when, then) in whens {
                    let hit = match &subject {
                        Some(s) => {
                            let w = when.eval(row, ctx)?;
                            compare(s, &w) == Some(Ordering::Equal)
                        }
                        None => when.eval(row, ctx)?.as_bool()? == Some(true),
                    };
                    if hit {
                        return then.eval(row, ctx);
                    }
                }
                match else_result {
                    Some(e) => e.eval(row, ctx),
                    None => Ok(Value::Null),
                }
            }
            Expr::Cast { expr, ty } => {
                let v = expr.eval(row, ctx)?;
                cast_at(v, &expr.ty(), ty, true, Some(ctx.now_micros))
            }
            Expr::Func { func, args, ty } => eval_func(*func, args, ty, row, ctx),
            Expr::OuterRef { slot, .. } => {
                ctx.outer.get(*slot).cloned().ok_or_else(|| {
                    SqlError::internal(format!("outer reference {slot} has no value"))
                })
            }
            Expr::Subquery {
                plan,
                kind,
                correlation,
                ..
            } => {
                let runner = ctx
                    .subqueries
                    .ok_or_else(|| SqlError::internal("subquery evaluated without a runner"))?;
                let mut outer = Vec::with_capacity(correlation.len());
                for c in correlation {
                    outer.push(c.eval(row, ctx)?);
                }
                let rows = runner.run_subquery(plan, &outer)?;
                match kind {
                    SubqueryKind::Scalar => match rows.len() {
                        0 => Ok(Value::Null),
                        1 => Ok(rows[0].first().cloned().unwrap_or(Value::Null)),
                        _ => Err(SqlError::new(
                            code::CARDINALITY_VIOLATION,
                            "more than one row returned by a subquery used as an expression",
                        )),
                    },
                    SubqueryKind::Exists { negated } => {
                        Ok(Value::Bool(rows.is_empty() == *negated))
                    }
                    SubqueryKind::Array => Ok(Value::Array(
                        rows.iter()
                            .map(|r| r.first().cloned().unwrap_or(Value::Null))
                            .collect(),
                    )),
                    SubqueryKind::In { expr, negated } => {
                        let v = expr.eval(row, ctx)?;
                        if v.is_null() {
                            return Ok(if rows.is_empty() {
                                Value::Bool(*negated)
                            } else {
                                Value::Null
                            });
                        }
                        Ok(match runner.subquery_contains(plan, &outer, &v)? {
                            Some(found) => Value::Bool(found != *negated),
                            None => Value::Null,
                        })
                    }
                }
            }
        }
    }
}

/// `v` (not NULL) against the first values of `rows`, by `=`: see
/// [`SubqueryRunner::subquery_contains`].
pub fn contains_value(rows: &[Vec<Value>], v: &Value) -> Option<bool> {
    let mut saw_null = false;
    for r in rows {
        match r.first().and_then(|x| compare(v, x)) {
            Some(Ordering::Equal) => return Some(true),
            None => saw_null = true,
            _ => {}
        }
    }
    if saw_null {
        None
    } else {
        Some(false)
    }
}

fn check_int(v: Option<i64>, ty: &DataType) -> Result<Value> {
    let v = v.ok_or_else(|| SqlError::out_of_range(ty.short_name()))?;
    let fits = match ty {
        DataType::Int2 => i16::try_from(v).is_ok(),
        DataType::Int4 => i32::try_from(v).is_ok(),
        _ => true,
    };
    if fits {
        Ok(Value::Int(v))
    } else {
        Err(SqlError::out_of_range(ty.short_name()))
    }
}

fn float_result(f: f64, ty: &DataType) -> Result<Value> {
    if f.is_infinite() {
        return Err(SqlError::new(
            code::NUMERIC_VALUE_OUT_OF_RANGE,
            "value out of range: overflow",
        ));
    }
    if matches!(ty, DataType::Float4) {
        Ok(Value::Float(f as f32 as f64))
    } else {
        Ok(Value::Float(f))
    }
}

/// Applies a non-logical binary operator to two evaluated operands.
/// The cases of [`binary`] that need only references to their operands: NULLs,
/// comparisons, `LIKE` and numeric arithmetic (`None` for the rest). Same results as
/// `binary`, without copying a column's text or numeric to compare or combine it.
fn binary_by_ref(op: BinaryOp, l: &Value, r: &Value) -> Result<Option<Value>> {
    if l.is_null() || r.is_null() {
        return Ok(Some(Value::Null));
    }
    if op.is_comparison() {
        let ord = compare(l, r)
            .ok_or_else(|| SqlError::internal(format!("cannot compare {l:?} with {r:?}")))?;
        return Ok(Some(Value::Bool(comparison_holds(op, ord))));
    }
    Ok(match (op, l, r) {
        (BinaryOp::Like | BinaryOp::NotLike, Value::Text(s), Value::Text(p)) => {
            let m = like(s.as_bytes(), p.as_bytes(), false)?;
            Some(Value::Bool(m == (op == BinaryOp::Like)))
        }
        (
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod,
            Value::Numeric(a),
            Value::Numeric(b),
        ) => Some(Value::numeric(match op {
            BinaryOp::Add => a.add(b)?,
            BinaryOp::Sub => a.sub(b)?,
            BinaryOp::Mul => a.mul(b)?,
            BinaryOp::Div => a.div(b)?,
            _ => a.rem(b)?,
        })),
        _ => None,
    })
}

/// Whether comparison `op` holds for operands ordered `ord`.
fn comparison_holds(op: BinaryOp, ord: Ordering) -> bool {
    match op {
        BinaryOp::Eq => ord == Ordering::Equal,
        BinaryOp::NotEq => ord != Ordering::Equal,
        BinaryOp::Lt => ord == Ordering::Less,
        BinaryOp::LtEq => ord != Ordering::Greater,
        BinaryOp::Gt => ord == Ordering::Greater,
        _ => ord != Ordering::Less,
    }
}

pub fn binary(op: BinaryOp, l: Value, r: Value, ty: &DataType) -> Result<Value> {
    match binary_by_ref(op, &l, &r)? {
        Some(v) => Ok(v),
        None => binary_owned(op, l, r, ty),
    }
}

/// The cases of [`binary`] that [`binary_by_ref`] leaves (non-NULL operands, no comparison).
fn binary_owned(op: BinaryOp, l: Value, r: Value, ty: &DataType) -> Result<Value> {
    match (op, l, r) {
        (BinaryOp::Add, Value::Int(a), Value::Int(b)) => check_int(a.checked_add(b), ty),
        (BinaryOp::Sub, Value::Int(a), Value::Int(b)) => check_int(a.checked_sub(b), ty),
        (BinaryOp::Mul, Value::Int(a), Value::Int(b)) => check_int(a.checked_mul(b), ty),
        (BinaryOp::Div, Value::Int(_), Value::Int(0))
        | (BinaryOp::Mod, Value::Int(_), Value::Int(0)) => Err(SqlError::division_by_zero()),
        (BinaryOp::Div, Value::Int(a), Value::Int(b)) => check_int(a.checked_div(b), ty),
        (BinaryOp::Mod, Value::Int(a), Value::Int(b)) => {
            Ok(Value::Int(a.checked_rem(b).unwrap_or(0)))
        }
        (op, Value::Float(a), Value::Float(b)) => match op {
            BinaryOp::Add => float_result(a + b, ty),
            BinaryOp::Sub => float_result(a - b, ty),
            BinaryOp::Mul => float_result(a * b, ty),
            BinaryOp::Div if b == 0.0 => Err(SqlError::division_by_zero()),
            BinaryOp::Div => float_result(a / b, ty),
            _ => Err(SqlError::new(
                code::UNDEFINED_FUNCTION,
                format!(
                    "operator does not exist: double precision {} double precision",
                    op.symbol()
                ),
            )),
        },
        (BinaryOp::Concat, Value::Text(a), Value::Text(b)) => Ok(Value::Text(a + &b)),
        (BinaryOp::Concat, Value::Bytes(mut a), Value::Bytes(b)) => {
            a.extend_from_slice(&b);
            Ok(Value::Bytes(a))
        }
        (BinaryOp::ILike | BinaryOp::NotILike, Value::Text(s), Value::Text(p)) => {
            let m = like(
                s.to_lowercase().as_bytes(),
                p.to_lowercase().as_bytes(),
                true,
            )?;
            Ok(Value::Bool(m == (op == BinaryOp::ILike)))
        }
        (op, l, r) => builtin::binary(op, l, r),
    }
}

/// SQL `LIKE` with `%`, `_` and the default escape character `\`.
fn like(s: &[u8], p: &[u8], _ci: bool) -> Result<bool> {
    // Iterative matcher with backtracking to the last `%` (linear in practice).
    let (mut si, mut pi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    // Matching works on UTF-8 bytes; `_` must consume one whole character.
    let char_len = |b: u8| match b {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    };
    loop {
        if pi < p.len() {
            match p[pi] {
                b'%' => {
                    star = Some((pi, si));
                    pi += 1;
                    continue;
                }
                b'_' if si < s.len() => {
                    si += char_len(s[si]).min(s.len() - si);
                    pi += 1;
                    continue;
                }
                b'\\' => {
                    let Some(&lit) = p.get(pi + 1) else {
                        return Err(SqlError::new(
                            code::INVALID_ESCAPE_SEQUENCE,
                            "LIKE pattern must not end with escape character",
                        ));
                    };
                    if si < s.len() && s[si] == lit {
                        si += 1;
                        pi += 2;
                        continue;
                    }
                }
                c if c != b'_' && si < s.len() && s[si] == c => {
                    si += 1;
                    pi += 1;
                    continue;
                }
                _ => {}
            }
        } else if si == s.len() {
            return Ok(true);
        }
        // Mismatch: let the last `%` absorb one more character, or fail.
        match star {
            Some((sp, ss)) if ss < s.len() => {
                let next = ss + char_len(s[ss]).min(s.len() - ss);
                star = Some((sp, next));
                pi = sp + 1;
                si = next;
            }
            _ => return Ok(false),
        }
    }
}

fn eval_func(
    func: Func,
    args: &[Expr],
    ty: &DataType,
    row: &[Value],
    ctx: &EvalContext,
) -> Result<Value> {
    // Functions that do not simply propagate NULL.
    match func {
        Func::Builtin(b) => return builtin::eval(b, args, ty, row, ctx),
        Func::Coalesce => {
            for a in args {
                let v = a.eval(row, ctx)?;
                if !v.is_null() {
                    return Ok(v);
                }
            }
            return Ok(Value::Null);
        }
        Func::NullIf => {
            let a = eval_arg(args, 0, row, ctx)?;
            let b = eval_arg(args, 1, row, ctx)?;
            return Ok(if compare(&a, &b) == Some(Ordering::Equal) {
                Value::Null
            } else {
                a
            });
        }
        Func::Greatest | Func::Least => {
            let mut best: Option<Value> = None;
            for a in args {
                let v = a.eval(row, ctx)?;
                if v.is_null() {
                    continue;
                }
                best = Some(match best {
                    None => v,
                    Some(b) => {
                        let ord = compare(&v, &b).unwrap_or(Ordering::Equal);
                        let take = if func == Func::Greatest {
                            ord == Ordering::Greater
                        } else {
                            ord == Ordering::Less
                        };
                        if take {
                            v
                        } else {
                            b
                        }
                    }
                });
            }
            return Ok(best.unwrap_or(Value::Null));
        }
        Func::Concat => {
            let mut out = String::new();
            for a in args {
                let v = a.eval(row, ctx)?;
                if let Some(t) = v.to_text(&a.ty()) {
                    out.push_str(&t);
                }
            }
            return Ok(Value::Text(out));
        }
        Func::SessionConstant => return eval_arg(args, 0, row, ctx),
        Func::Pg(f) => return pg_functions::eval(f, args, row, ctx),
        Func::NextVal | Func::CurrVal | Func::SetVal | Func::LastVal => {
            let mut vals = Vec::with_capacity(args.len());
            for a in args {
                let v = a.eval(row, ctx)?;
                if v.is_null() {
                    return Ok(Value::Null);
                }
                vals.push(v);
            }
            let host = ctx
                .subqueries
                .ok_or_else(|| SqlError::not_supported("sequence functions here"))?;
            return host.call_host(func, &vals);
        }
        _ => {}
    }
    let mut vals = Vec::with_capacity(args.len());
    for a in args {
        let v = a.eval(row, ctx)?;
        if v.is_null() {
            return Ok(Value::Null);
        }
        vals.push(v);
    }
    let text = |i: usize| -> Result<&str> {
        match vals.get(i) {
            Some(Value::Text(s)) => Ok(s.as_str()),
            other => Err(SqlError::internal(format!("expected text, got {other:?}"))),
        }
    };
    let int = |i: usize| -> Result<i64> {
        match vals.get(i) {
            Some(Value::Int(v)) => Ok(*v),
            Some(Value::Float(f)) => Ok(*f as i64),
            other => Err(SqlError::internal(format!(
                "expected integer, got {other:?}"
            ))),
        }
    };
    let float = |i: usize| -> Result<f64> {
        match vals.get(i) {
            Some(Value::Int(v)) => Ok(*v as f64),
            Some(Value::Float(f)) => Ok(*f),
            other => Err(SqlError::internal(format!(
                "expected number, got {other:?}"
            ))),
        }
    };
    Ok(match func {
        Func::Abs => match vals.first() {
            Some(Value::Int(i)) => check_int(i.checked_abs(), ty)?,
            Some(Value::Float(f)) => Value::Float(f.abs()),
            _ => return Err(SqlError::internal("abs of a non-number")),
        },
        Func::Lower => Value::Text(text(0)?.to_lowercase()),
        Func::Upper => Value::Text(text(0)?.to_uppercase()),
        Func::Length => match vals.first() {
            Some(Value::Bytes(b)) => Value::Int(b.len() as i64),
            _ => Value::Int(text(0)?.chars().count() as i64),
        },
        Func::OctetLength => match vals.first() {
            Some(Value::Bytes(b)) => Value::Int(b.len() as i64),
            _ => Value::Int(text(0)?.len() as i64),
        },
        Func::Substr => {
            let s: Vec<char> = text(0)?.chars().collect();
            let start = int(1)?;
            let (from, to) = if vals.len() > 2 {
                let len = int(2)?;
                if len < 0 {
                    return Err(SqlError::new(
                        code::SUBSTRING_ERROR,
                        "negative substring length not allowed",
                    ));
                }
                (start, start.saturating_add(len))
            } else {
                (start, i64::MAX)
            };
            let from = from.max(1) as usize - 1;
            let to = (to.max(1) as usize - 1).min(s.len());
            Value::Text(if from < to {
                s[from..to].iter().collect()
            } else {
                String::new()
            })
        }
        Func::Trim | Func::LTrim | Func::RTrim => {
            let s = text(0)?;
            let set: Vec<char> = if vals.len() > 1 {
                text(1)?.chars().collect()
            } else {
                vec![' ']
            };
            let out = match func {
                Func::LTrim => s.trim_start_matches(set.as_slice()),
                Func::RTrim => s.trim_end_matches(set.as_slice()),
                _ => s.trim_matches(set.as_slice()),
            };
            Value::Text(out.to_string())
        }
        Func::Replace => {
            let from = text(1)?;
            if from.is_empty() {
                Value::Text(text(0)?.to_string())
            } else {
                Value::Text(text(0)?.replace(from, text(2)?))
            }
        }
        Func::Round => {
            if vals.len() > 1 {
                let scale = int(1)?.clamp(-300, 300) as i32;
                let m = 10f64.powi(scale);
                Value::Float((float(0)? * m).round() / m)
            } else {
                match vals.first() {
                    Some(Value::Int(i)) => Value::Int(*i),
                    // float8 round() rounds half to even, as rint() does.
                    _ => Value::Float(float(0)?.round_ties_even()),
                }
            }
        }
        Func::Floor => match vals.first() {
            Some(Value::Int(i)) => Value::Int(*i),
            _ => Value::Float(float(0)?.floor()),
        },
        Func::Ceil => match vals.first() {
            Some(Value::Int(i)) => Value::Int(*i),
            _ => Value::Float(float(0)?.ceil()),
        },
        Func::Sqrt => {
            let f = float(0)?;
            if f < 0.0 {
                return Err(SqlError::new(
                    "2201F",
                    "cannot take square root of a negative number",
                ));
            }
            Value::Float(f.sqrt())
        }
        Func::Power => float_result(float(0)?.powf(float(1)?), ty)?,
        Func::Sign => match vals.first() {
            Some(Value::Int(i)) => Value::Int(i.signum()),
            _ => Value::Float(if float(0)? == 0.0 {
                0.0
            } else {
                float(0)?.signum()
            }),
        },
        Func::Strpos => {
            let hay = text(0)?;
            let needle = text(1)?;
            Value::Int(match hay.find(needle) {
                Some(b) => hay[..b].chars().count() as i64 + 1,
                None => 0,
            })
        }
        Func::Left | Func::Right => {
            let s: Vec<char> = text(0)?.chars().collect();
            let n = int(1)?;
            let len = s.len() as i64;
            let take = if n >= 0 { n.min(len) } else { (len + n).max(0) } as usize;
            Value::Text(if func == Func::Left {
                s[..take].iter().collect()
            } else {
                s[s.len() - take..].iter().collect()
            })
        }
        Func::Repeat => {
            let n = int(1)?.max(0) as usize;
            let s = text(0)?;
            if s.len().saturating_mul(n) > 1 << 30 {
                return Err(SqlError::new(
                    code::PROGRAM_LIMIT_EXCEEDED,
                    "requested length too large",
                ));
            }
            Value::Text(s.repeat(n))
        }
        Func::Reverse => Value::Text(text(0)?.chars().rev().collect()),
        Func::Pg(_) => unreachable_func(func)?,
        Func::Coalesce
        | Func::NullIf
        | Func::Greatest
        | Func::Least
        | Func::Concat
        | Func::SessionConstant
        | Func::NextVal
        | Func::CurrVal
        | Func::SetVal
        | Func::LastVal
        | Func::Builtin(_) => unreachable_func(func)?,
    })
}

fn unreachable_func(func: Func) -> Result<Value> {
    Err(SqlError::internal(format!("{func:?} evaluated twice")))
}

fn eval_arg(args: &[Expr], i: usize, row: &[Value], ctx: &EvalContext) -> Result<Value> {
    args.get(i)
        .ok_or_else(|| SqlError::internal("missing function argument"))?
        .eval(row, ctx)
}

pub mod pg_functions;
pub use pg_functions::PgFunc;

#[cfg(test)]
mod tests {
    use super::*;

    fn lit_bool(b: Option<bool>) -> Expr {
        Expr::literal(b.map_or(Value::Null, Value::Bool), DataType::Bool)
    }

    fn eval(e: &Expr) -> Result<Value> {
        e.eval(&[], &EvalContext::default())
    }

    fn int(v: i64) -> Expr {
        Expr::literal(Value::Int(v), DataType::Int4)
    }

    fn arith(op: BinaryOp, l: Expr, r: Expr) -> Expr {
        Expr::Binary {
            op,
            left: Box::new(l),
            right: Box::new(r),
            ty: DataType::Int4,
        }
    }

    #[test]
    fn constants_fold_and_the_rest_stays() {
        // c + (1 + 2) becomes c + 3.
        let c = Expr::Column {
            index: 0,
            ty: DataType::Int4,
        };
        let mut e = arith(
            BinaryOp::Add,
            c.clone(),
            arith(BinaryOp::Add, int(1), int(2)),
        );
        e.fold_constants();
        assert_eq!(e, arith(BinaryOp::Add, c, int(3)));
        // A failing constant is left for the rows that reach it.
        let mut div = arith(BinaryOp::Div, int(1), int(0));
        div.fold_constants();
        assert_eq!(div, arith(BinaryOp::Div, int(1), int(0)));
        // The clock is read when the statement runs, not when it is planned.
        let now = Expr::Func {
            func: Func::Builtin(Builtin::Now),
            args: Vec::new(),
            ty: DataType::Timestamptz(None),
        };
        let mut e = now.clone();
        e.fold_constants();
        assert_eq!(e, now);
        let text_now = Expr::Cast {
            expr: Box::new(Expr::literal(Value::Text("now".into()), DataType::Text)),
            ty: DataType::Timestamptz(None),
        };
        let mut e = text_now.clone();
        e.fold_constants();
        assert_eq!(e, text_now);
        // Parameters are not constants of the plan.
        let param = arith(
            BinaryOp::Add,
            Expr::Param {
                index: 0,
                ty: DataType::Int4,
            },
            int(1),
        );
        let mut e = param.clone();
        e.fold_constants();
        assert_eq!(e, param);
    }

    #[test]
    fn date_against_timestamp_becomes_date_against_date_with_the_same_truth() {
        use crate::types::datetime::{DATE_NOBEGIN, DATE_NOEND, TS_NOEND, USECS_PER_DAY};
        let col = Expr::Column {
            index: 0,
            ty: DataType::Date,
        };
        let cast = Expr::Cast {
            expr: Box::new(col.clone()),
            ty: DataType::Timestamp(None),
        };
        let day = USECS_PER_DAY;
        let stamps = [
            0,
            1,
            day - 1,
            day,
            -1,
            -day,
            -day + 1,
            5 * day + 3_600_000_000,
            TS_NOEND,
        ];
        let dates = [None, Some(-2), Some(-1), Some(0), Some(1), Some(5), Some(6)]
            .into_iter()
            .chain([Some(DATE_NOBEGIN), Some(DATE_NOEND)]);
        let dates: Vec<Option<i64>> = dates.collect();
        let ops = [
            BinaryOp::Eq,
            BinaryOp::Lt,
            BinaryOp::LtEq,
            BinaryOp::Gt,
            BinaryOp::GtEq,
        ];
        let mut narrowed_some = 0;
        for t in stamps {
            let lit = Expr::literal(Value::Int(t), DataType::Timestamp(None));
            for op in ops {
                for lit_left in [false, true] {
                    let (l, r) = if lit_left {
                        (lit.clone(), cast.clone())
                    } else {
                        (cast.clone(), lit.clone())
                    };
                    let original = Expr::Binary {
                        op,
                        left: Box::new(l),
                        right: Box::new(r),
                        ty: DataType::Bool,
                    };
                    let mut folded = original.clone();
                    folded.fold_constants();
                    if folded != original {
                        narrowed_some += 1;
                        // The cast is gone: the column is compared with a date.
                        let Expr::Binary { left, right, .. } = &folded else {
                            panic!("{folded:?}");
                        };
                        assert!(**left == col || **right == col, "{folded:?}");
                    }
                    for d in &dates {
                        let row = [d.map_or(Value::Null, Value::Int)];
                        let cx = EvalContext::default();
                        assert_eq!(
                            original.eval(&row, &cx).unwrap(),
                            folded.eval(&row, &cx).unwrap(),
                            "{op:?} t={t} lit_left={lit_left} d={d:?}"
                        );
                    }
                }
            }
        }
        // Every finite stamp is narrowed for <, <=, >, >= both ways round (8 of 9 stamps).
        assert!(narrowed_some >= 8 * 8, "{narrowed_some}");
    }

    #[test]
    fn three_valued_logic() {
        let vals = [Some(true), Some(false), None];
        for a in vals {
            for b in vals {
                let and = Expr::Binary {
                    op: BinaryOp::And,
                    left: Box::new(lit_bool(a)),
                    right: Box::new(lit_bool(b)),
                    ty: DataType::Bool,
                };
                let or = Expr::Binary {
                    op: BinaryOp::Or,
                    left: Box::new(lit_bool(a)),
                    right: Box::new(lit_bool(b)),
                    ty: DataType::Bool,
                };
                let want_and = match (a, b) {
                    (Some(false), _) | (_, Some(false)) => Some(false),
                    (Some(true), Some(true)) => Some(true),
                    _ => None,
                };
                let want_or = match (a, b) {
                    (Some(true), _) | (_, Some(true)) => Some(true),
                    (Some(false), Some(false)) => Some(false),
                    _ => None,
                };
                assert_eq!(
                    eval(&and).unwrap().as_bool().unwrap(),
                    want_and,
                    "{a:?} AND {b:?}"
                );
                assert_eq!(
                    eval(&or).unwrap().as_bool().unwrap(),
                    want_or,
                    "{a:?} OR {b:?}"
                );
            }
        }
    }

    #[test]
    fn integer_overflow_is_an_error() {
        let e = binary(
            BinaryOp::Add,
            Value::Int(i32::MAX as i64),
            Value::Int(1),
            &DataType::Int4,
        );
        assert_eq!(e.unwrap_err().code, code::NUMERIC_VALUE_OUT_OF_RANGE);
        let e = binary(
            BinaryOp::Mul,
            Value::Int(i64::MAX),
            Value::Int(2),
            &DataType::Int8,
        );
        assert_eq!(e.unwrap_err().code, code::NUMERIC_VALUE_OUT_OF_RANGE);
        let e = binary(
            BinaryOp::Div,
            Value::Int(i64::MIN),
            Value::Int(-1),
            &DataType::Int8,
        );
        assert_eq!(e.unwrap_err().code, code::NUMERIC_VALUE_OUT_OF_RANGE);
        let e = binary(BinaryOp::Div, Value::Int(1), Value::Int(0), &DataType::Int4);
        assert_eq!(e.unwrap_err().code, code::DIVISION_BY_ZERO);
        assert_eq!(
            binary(
                BinaryOp::Div,
                Value::Int(-7),
                Value::Int(2),
                &DataType::Int4
            )
            .unwrap(),
            Value::Int(-3)
        );
        assert_eq!(
            binary(
                BinaryOp::Mod,
                Value::Int(-7),
                Value::Int(2),
                &DataType::Int4
            )
            .unwrap(),
            Value::Int(-1)
        );
    }

    #[test]
    fn like_matches_postgres() {
        let cases = [
            ("abc", "a%", true),
            ("abc", "%c", true),
            ("abc", "_b_", true),
            ("abc", "a_", false),
            ("abc", "%", true),
            ("", "%", true),
            ("", "_", false),
            ("a%c", "a\\%c", true),
            ("abc", "a\\%c", false),
            ("héllo", "h_llo", true),
            ("aaa", "%a%a%a%", true),
            ("aa", "%a%a%a%", false),
        ];
        for (s, p, want) in cases {
            assert_eq!(
                like(s.as_bytes(), p.as_bytes(), false).unwrap(),
                want,
                "{s} LIKE {p}"
            );
        }
        assert!(like(b"a", b"a\\", false).is_err());
    }

    #[test]
    fn in_list_with_null_is_null_when_not_found() {
        let e = Expr::InList {
            expr: Box::new(Expr::literal(Value::Int(1), DataType::Int4)),
            list: vec![
                Expr::literal(Value::Int(2), DataType::Int4),
                Expr::literal(Value::Null, DataType::Int4),
            ],
            negated: false,
        };
        assert_eq!(eval(&e).unwrap(), Value::Null);
    }
}
