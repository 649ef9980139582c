//! Binding of window function calls (`f(...) OVER (...)`, `OVER w` with a `WINDOW` clause).
//!
//! Role: a child of `bind`. `bind_select` opens a [`WindowState`] while it binds the select
//! list and ORDER BY of a query block (the only places PostgreSQL allows window calls);
//! `bind_function` hands every call with an OVER clause to [`Binder::bind_window_call`],
//! which binds it over the block's post-aggregate scope (so `rank() OVER (ORDER BY
//! sum(x))` works) and returns a placeholder column. Once the block's width is known,
//! `bind_select_tail` renumbers the placeholders ([`resolve_slots`]) to the columns a
//! `Plan::Window` appends after its input's.
//!
//! Invariants:
//! 1. Placeholder k is `Expr::Column { index: WINDOW_SLOT + k }`; equal calls share one k,
//!    so `ORDER BY` finds a select-list call by equality. No placeholder survives
//!    `bind_select_tail`.
//! 2. The checks and messages are PostgreSQL's (parse_agg.c / parse_clause.c): nesting and
//!    window calls outside the select list and ORDER BY are 42P20 or 42803, frame shapes
//!    PostgreSQL rejects are 42P20, a variable in a frame offset is 42P10, DISTINCT and
//!    FILTER where PostgreSQL does not implement them are 0A000.
//! 3. A RANGE offset frame has exactly one ORDER BY key; its bounds are computed in a type
//!    where `key ± offset` cannot overflow for integers (int8), and the key is compared in
//!    the bound's type (a date key against `date - interval`, a timestamp).

use sqlparser::ast;

use super::{ident_name, intern, is_aggregate_name, no_function, Binder, Scope};
use crate::error::{code, Result, SqlError};
use crate::expr::{BinaryOp, Expr};
use crate::plan::{
    AggCall, AggFunc, AggOrder, FrameBound, FrameOffset, FrameUnits, WindowCall, WindowFrame,
    WindowFunc,
};
use crate::types::{DataType, Value};

/// Placeholder column index of a query block's first window call (invariant 1).
pub(super) const WINDOW_SLOT: usize = usize::MAX / 2;

/// The window calls of the query block being bound, and its `WINDOW` clause.
pub(super) struct WindowState {
    pub calls: Vec<WindowCall>,
    pub named: Vec<ast::NamedWindowDefinition>,
}

/// Functions that exist only as window functions.
fn is_window_only(name: &str) -> bool {
    matches!(
        name,
        "row_number"
            | "rank"
            | "dense_rank"
            | "percent_rank"
            | "cume_dist"
            | "ntile"
            | "lag"
            | "lead"
            | "first_value"
            | "last_value"
            | "nth_value"
    )
}

/// 42809 for a window-only function called without OVER.
pub(super) fn check_needs_over(name: &str) -> Result<()> {
    if is_window_only(name) {
        return Err(SqlError::new(
            code::WRONG_OBJECT_TYPE,
            format!("window function {name} requires an OVER clause"),
        ));
    }
    Ok(())
}

/// Whether an AST expression calls a window function (not looking inside subqueries).
pub(super) fn contains_window(e: &ast::Expr) -> bool {
    use sqlparser::ast::Visit;
    use std::ops::ControlFlow;
    struct Finder(bool, usize);
    impl ast::Visitor for Finder {
        type Break = ();
        fn pre_visit_query(&mut self, _q: &ast::Query) -> ControlFlow<()> {
            self.1 += 1;
            ControlFlow::Continue(())
        }
        fn post_visit_query(&mut self, _q: &ast::Query) -> ControlFlow<()> {
            self.1 -= 1;
            ControlFlow::Continue(())
        }
        fn pre_visit_expr(&mut self, e: &ast::Expr) -> ControlFlow<()> {
            if self.1 == 0 && matches!(e, ast::Expr::Function(f) if f.over.is_some()) {
                self.0 = true;
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        }
    }
    let mut f = Finder(false, 0);
    let _ = e.visit(&mut f);
    f.0
}

/// 42P20 "window functions are not allowed in {clause}" when `e` has one.
pub(super) fn forbid_window(e: &ast::Expr, clause: &str) -> Result<()> {
    if contains_window(e) {
        return Err(SqlError::new(
            code::WINDOWING_ERROR,
            format!("window functions are not allowed in {clause}"),
        ));
    }
    Ok(())
}

/// Renumbers placeholder k to column `width + k` (invariant 1).
pub(super) fn resolve_slots(e: &mut Expr, width: usize) {
    e.map_columns(&mut |i| {
        if i >= WINDOW_SLOT {
            width + (i - WINDOW_SLOT)
        } else {
            i
        }
    });
}

/// A window definition with any referenced window merged in.
struct Spec {
    partition_by: Vec<ast::Expr>,
    order_by: Vec<ast::OrderByExpr>,
    frame: Option<ast::WindowFrame>,
}

fn windowing_error(message: String) -> SqlError {
    SqlError::new(code::WINDOWING_ERROR, message)
}

/// The definition of the window named `name` in the WINDOW clause.
fn named_spec(named: &[ast::NamedWindowDefinition], name: &str, depth: usize) -> Result<Spec> {
    let def = named
        .iter()
        .find(|d| ident_name(&d.0) == name)
        .ok_or_else(|| {
            SqlError::new(
                code::UNDEFINED_OBJECT,
                format!("window \"{name}\" does not exist"),
            )
        })?;
    if depth > named.len() {
        return Err(windowing_error(format!(
            "window \"{name}\" refers to itself"
        )));
    }
    match &def.1 {
        ast::NamedWindowExpr::NamedWindow(other) => {
            named_spec(named, &ident_name(other), depth + 1)
        }
        ast::NamedWindowExpr::WindowSpec(s) => spec_of(named, s, depth + 1),
    }
}

/// `(base PARTITION BY .. ORDER BY .. frame)`: PostgreSQL's rules for copying a window.
fn spec_of(
    named: &[ast::NamedWindowDefinition],
    s: &ast::WindowSpec,
    depth: usize,
) -> Result<Spec> {
    let Some(base_name) = &s.window_name else {
        return Ok(Spec {
            partition_by: s.partition_by.clone(),
            order_by: s.order_by.clone(),
            frame: s.window_frame.clone(),
        });
    };
    let base_name = ident_name(base_name);
    let base = named_spec(named, &base_name, depth)?;
    if !s.partition_by.is_empty() {
        return Err(windowing_error(format!(
            "cannot override PARTITION BY clause of window \"{base_name}\""
        )));
    }
    if !s.order_by.is_empty() && !base.order_by.is_empty() {
        return Err(windowing_error(format!(
            "cannot override ORDER BY clause of window \"{base_name}\""
        )));
    }
    if base.frame.is_some() {
        let e = windowing_error(format!(
            "cannot copy window \"{base_name}\" because it has a frame clause"
        ));
        let bare = s.partition_by.is_empty() && s.order_by.is_empty() && s.window_frame.is_none();
        return Err(if bare {
            e.with_hint("Omit the parentheses in this OVER clause.")
        } else {
            e
        });
    }
    Ok(Spec {
        partition_by: base.partition_by,
        order_by: if s.order_by.is_empty() {
            base.order_by
        } else {
            s.order_by.clone()
        },
        frame: s.window_frame.clone(),
    })
}

impl Binder<'_> {
    /// Binds `f` (which has an OVER clause) as a window call of the current query block and
    /// returns its placeholder column (invariant 1).
    pub(super) fn bind_window_call(
        &mut self,
        f: &ast::Function,
        name: &str,
        args: &[ast::Expr],
        distinct: bool,
        star: bool,
        scope: &Scope,
    ) -> Result<Expr> {
        let Some(mut state) = self.windows.take() else {
            return Err(windowing_error(
                "window functions are not allowed here".to_string(),
            ));
        };
        let result = self
            .window_call(&state.named, f, name, args, distinct, star, scope)
            .map(|call| {
                let ty = call.ty.clone();
                Expr::Column {
                    index: WINDOW_SLOT + intern(&mut state.calls, call),
                    ty,
                }
            });
        self.windows = Some(state);
        result
    }

    #[allow(clippy::too_many_arguments)]
    fn window_call(
        &mut self,
        named: &[ast::NamedWindowDefinition],
        f: &ast::Function,
        name: &str,
        args: &[ast::Expr],
        distinct: bool,
        star: bool,
        scope: &Scope,
    ) -> Result<WindowCall> {
        let Some(over) = &f.over else {
            return Err(SqlError::internal("window call without OVER"));
        };
        let spec = match over {
            ast::WindowType::NamedWindow(id) => named_spec(named, &ident_name(id), 0)?,
            ast::WindowType::WindowSpec(s) => spec_of(named, s, 0)?,
        };
        if args.iter().chain(f.filter.as_deref()).any(contains_window) {
            return Err(windowing_error(
                "window function calls cannot be nested".to_string(),
            ));
        }
        if spec.partition_by.iter().any(contains_window)
            || spec.order_by.iter().any(|o| contains_window(&o.expr))
        {
            return Err(windowing_error(
                "window functions are not allowed in window definitions".to_string(),
            ));
        }
        if distinct {
            return Err(SqlError::new(
                code::FEATURE_NOT_SUPPORTED,
                "DISTINCT is not implemented for window functions",
            ));
        }
        if !f.within_group.is_empty() || f.null_treatment.is_some() {
            return Err(SqlError::not_supported(format!(
                "{name} with WITHIN GROUP or IGNORE/RESPECT NULLS"
            )));
        }
        let mut partition_by = Vec::with_capacity(spec.partition_by.len());
        for e in &spec.partition_by {
            let b = self.bind_expr(e, scope)?;
            partition_by.push(self.known_type(b)?);
        }
        let mut order_by = Vec::with_capacity(spec.order_by.len());
        for o in &spec.order_by {
            let b = self.bind_expr(&o.expr, scope)?;
            let descending = matches!(o.options.sort, Some(ast::OrderBySort::Desc));
            order_by.push(AggOrder {
                expr: self.known_type(b)?,
                descending,
                nulls_first: o.options.nulls_first.unwrap_or(descending),
            });
        }
        let aggregate = is_aggregate_name(name);
        if f.filter.is_some() && !aggregate {
            return Err(SqlError::new(
                code::FEATURE_NOT_SUPPORTED,
                "FILTER is not implemented for non-aggregate window functions",
            ));
        }
        let mut bound = Vec::with_capacity(args.len());
        for a in args {
            bound.push(self.bind_expr(a, scope)?);
        }
        let types: Vec<DataType> = bound.iter().map(|b| b.ty()).collect();
        let (func, args, ty) = match (name, bound.len()) {
            ("row_number", 0) => (WindowFunc::RowNumber, bound, DataType::Int8),
            ("rank", 0) => (WindowFunc::Rank, bound, DataType::Int8),
            ("dense_rank", 0) => (WindowFunc::DenseRank, bound, DataType::Int8),
            ("percent_rank", 0) => (WindowFunc::PercentRank, bound, DataType::Float8),
            ("cume_dist", 0) => (WindowFunc::CumeDist, bound, DataType::Float8),
            ("ntile", 1) => {
                let n = self.coerce_arg(bound.remove(0), &DataType::Int4, name, &types)?;
                (WindowFunc::Ntile, vec![n], DataType::Int4)
            }
            ("lag" | "lead", 1..=3) => {
                let mut it = bound.into_iter();
                let value = match it.next() {
                    Some(v) => self.known_type(v)?,
                    None => return Err(no_function(name, &types)),
                };
                let ty = value.ty();
                let offset = match it.next() {
                    Some(o) => self.coerce_arg(o, &DataType::Int4, name, &types)?,
                    None => Expr::literal(Value::Int(1), DataType::Int4),
                };
                let default = match it.next() {
                    Some(d) => self.coerce_arg(d, &ty, name, &types)?,
                    None => Expr::literal(Value::Null, ty.clone()),
                };
                let func = if name == "lag" {
                    WindowFunc::Lag
                } else {
                    WindowFunc::Lead
                };
                (func, vec![value, offset, default], ty)
            }
            ("first_value" | "last_value", 1) => {
                let value = self.known_type(bound.remove(0))?;
                let ty = value.ty();
                let func = if name == "first_value" {
                    WindowFunc::FirstValue
                } else {
                    WindowFunc::LastValue
                };
                (func, vec![value], ty)
            }
            ("nth_value", 2) => {
                let n = self.coerce_arg(bound.remove(1), &DataType::Int4, name, &types)?;
                let value = self.known_type(bound.remove(0))?;
                let ty = value.ty();
                (WindowFunc::NthValue, vec![value, n], ty)
            }
            _ if is_window_only(name) => return Err(no_function(name, &types)),
            _ if aggregate => {
                let filter = match f.filter.as_deref() {
                    Some(x) => Some(self.bind_predicate(x, scope, "FILTER")?),
                    None => None,
                };
                let (func, arg, extra, ty) = if name == "array_agg" && !star && bound.len() == 1 {
                    let a = self.known_type(bound.remove(0))?;
                    if matches!(a.ty(), DataType::Array(_)) {
                        return Err(SqlError::not_supported("array_agg of arrays"));
                    }
                    let ty = DataType::Array(Box::new(a.ty()));
                    (AggFunc::ArrayAgg, Some(a), None, ty)
                } else {
                    self.aggregate_signature(name, star, bound)?
                };
                let call = AggCall {
                    func,
                    arg,
                    extra,
                    distinct: false,
                    filter,
                    ty: ty.clone(),
                    order_by: Vec::new(),
                };
                (WindowFunc::Aggregate(Box::new(call)), Vec::new(), ty)
            }
            _ => {
                return Err(SqlError::new(
                    code::WRONG_OBJECT_TYPE,
                    format!(
                    "OVER specified, but {name} is not a window function nor an aggregate function"
                ),
                ))
            }
        };
        if star && !matches!(&func, WindowFunc::Aggregate(_)) {
            return Err(no_function(name, &[]));
        }
        let frame = self.window_frame(spec.frame.as_ref(), &order_by, scope)?;
        Ok(WindowCall {
            func,
            args,
            partition_by,
            order_by,
            frame,
            ty,
        })
    }

    /// An untyped literal or parameter as text (as PostgreSQL resolves `unknown`).
    fn known_type(&mut self, e: Expr) -> Result<Expr> {
        if e.ty() == DataType::Unknown {
            self.coerce(e, &DataType::Text)
        } else {
            Ok(e)
        }
    }

    /// A function argument converted to `to` when the conversion is implicit, else 42883.
    fn coerce_arg(
        &mut self,
        e: Expr,
        to: &DataType,
        name: &str,
        types: &[DataType],
    ) -> Result<Expr> {
        let from = e.ty();
        let implicit = from == DataType::Unknown
            || from.unconstrained() == to.unconstrained()
            || (from.is_integer() && to.is_integer())
            || (from.is_numeric() && to.is_numeric() && !to.is_integer())
            || (from.is_datetime() && to.is_datetime());
        if !implicit {
            return Err(no_function(name, types));
        }
        self.coerce(e, to)
    }

    fn window_frame(
        &mut self,
        frame: Option<&ast::WindowFrame>,
        order_by: &[AggOrder],
        scope: &Scope,
    ) -> Result<WindowFrame> {
        let Some(f) = frame else {
            return Ok(WindowFrame::default_frame());
        };
        use ast::WindowFrameBound as B;
        let units = match f.units {
            ast::WindowFrameUnits::Rows => FrameUnits::Rows,
            ast::WindowFrameUnits::Range => FrameUnits::Range,
            ast::WindowFrameUnits::Groups => FrameUnits::Groups,
        };
        if units == FrameUnits::Groups && order_by.is_empty() {
            return Err(windowing_error(
                "GROUPS mode requires an ORDER BY clause".to_string(),
            ));
        }
        let end = f.end_bound.clone().unwrap_or(B::CurrentRow);
        let message = match (&f.start_bound, &end) {
            (B::Following(None), _) => Some("frame start cannot be UNBOUNDED FOLLOWING"),
            (_, B::Preceding(None)) => Some("frame end cannot be UNBOUNDED PRECEDING"),
            (B::CurrentRow, B::Preceding(Some(_))) => {
                Some("frame starting from current row cannot have preceding rows")
            }
            (B::Following(Some(_)), B::CurrentRow | B::Preceding(Some(_))) => {
                Some("frame starting from following row cannot have preceding rows")
            }
            _ => None,
        };
        if let Some(m) = message {
            return Err(windowing_error(m.to_string()));
        }
        Ok(WindowFrame {
            units,
            start: self.frame_bound(&f.start_bound, units, order_by, scope)?,
            end: self.frame_bound(&end, units, order_by, scope)?,
        })
    }

    fn frame_bound(
        &mut self,
        b: &ast::WindowFrameBound,
        units: FrameUnits,
        order_by: &[AggOrder],
        scope: &Scope,
    ) -> Result<FrameBound> {
        use ast::WindowFrameBound as B;
        let (e, preceding) = match b {
            B::CurrentRow => return Ok(FrameBound::CurrentRow),
            B::Preceding(None) => return Ok(FrameBound::UnboundedPreceding),
            B::Following(None) => return Ok(FrameBound::UnboundedFollowing),
            B::Preceding(Some(e)) => (e, true),
            B::Following(Some(e)) => (e, false),
        };
        let unit_name = match units {
            FrameUnits::Rows => "ROWS",
            FrameUnits::Range => "RANGE",
            FrameUnits::Groups => "GROUPS",
        };
        let offset = self.bind_expr(e, scope)?;
        let mut has_variable = false;
        offset.visit(&mut |x| has_variable |= matches!(x, Expr::Column { .. }));
        if has_variable {
            return Err(SqlError::new(
                code::INVALID_COLUMN_REFERENCE,
                format!("argument of {unit_name} must not contain variables"),
            ));
        }
        let offset = match units {
            FrameUnits::Rows | FrameUnits::Groups => {
                // Any number converts (by assignment, rounding), as in PostgreSQL.
                let from = offset.ty();
                if !(from.is_numeric() || from == DataType::Unknown) {
                    return Err(SqlError::new(
                        code::DATATYPE_MISMATCH,
                        format!(
                            "argument of {unit_name} must be type bigint, not type {}",
                            from.sql_name()
                        ),
                    ));
                }
                FrameOffset {
                    offset: self.coerce(offset, &DataType::Int8)?,
                    range: None,
                }
            }
            FrameUnits::Range => {
                let [key] = order_by else {
                    return Err(windowing_error(
                        "RANGE with offset PRECEDING/FOLLOWING requires exactly one ORDER BY column"
                            .to_string(),
                    ));
                };
                let kt = key.expr.ty();
                let (key_expr, offset) = if kt.is_integer() {
                    (
                        self.coerce(key.expr.clone(), &DataType::Int8)?,
                        self.coerce_arg(offset, &DataType::Int8, "in_range", &[])?,
                    )
                } else if kt.is_float() {
                    (
                        self.coerce(key.expr.clone(), &DataType::Float8)?,
                        self.coerce_arg(offset, &DataType::Float8, "in_range", &[])?,
                    )
                } else if matches!(kt, DataType::Numeric(_)) {
                    (
                        key.expr.clone(),
                        self.coerce_arg(offset, &DataType::Numeric(None), "in_range", &[])?,
                    )
                } else if kt.is_datetime() || matches!(kt, DataType::Time(_) | DataType::Interval) {
                    if !matches!(offset.ty(), DataType::Interval | DataType::Unknown) {
                        return Err(no_function("in_range", &[kt.clone(), offset.ty()]));
                    }
                    (key.expr.clone(), self.coerce(offset, &DataType::Interval)?)
                } else {
                    return Err(SqlError::new(
                        code::FEATURE_NOT_SUPPORTED,
                        format!(
                            "RANGE with offset PRECEDING/FOLLOWING is not supported for column type {}",
                            kt.sql_name()
                        ),
                    ));
                };
                // Preceding in an ascending order is below the key, in a descending one above.
                let op = if preceding != key.descending {
                    BinaryOp::Sub
                } else {
                    BinaryOp::Add
                };
                let bound = self.binary(op, key_expr.clone(), offset.clone())?;
                let key_cmp = self.coerce(key_expr, &bound.ty())?;
                FrameOffset {
                    offset,
                    range: Some((bound, key_cmp)),
                }
            }
        };
        Ok(if preceding {
            FrameBound::Preceding(offset)
        } else {
            FrameBound::Following(offset)
        })
    }
}
