"""SQLAlchemy 2 (Core and ORM, psycopg 3 driver) against a running Cairn server (CAIRN_URL).

What the issue names: create_all, inserts, queries with joins, relationship loading and
rollback; plus a nested transaction (SAVEPOINT) and an optimistic version counter, which ORMs
lean on.
"""
import os
import sys

from sqlalchemy import (
    ForeignKey,
    Integer,
    Numeric,
    String,
    create_engine,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    joinedload,
    mapped_column,
    relationship,
    selectinload,
)

URL = os.environ["CAIRN_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
engine = create_engine(URL)


class Base(DeclarativeBase):
    pass


class Customer(Base):
    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    orders: Mapped[list["Order"]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", order_by="Order.id"
    )


class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    total = mapped_column(Numeric(10, 2), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    customer: Mapped[Customer] = relationship(back_populates="orders")
    __mapper_args__ = {"version_id_col": version}


def test_create_all_and_core():
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(Customer), [{"name": "ada"}, {"name": "grace"}, {"name": "edsger"}])
        ids = dict(conn.execute(select(Customer.name, Customer.id)).all())
        conn.execute(
            insert(Order),
            [
                {"customer_id": ids["ada"], "total": 10, "version": 1},
                {"customer_id": ids["ada"], "total": "2.50", "version": 1},
                {"customer_id": ids["grace"], "total": 7, "version": 1},
            ],
        )
    with engine.connect() as conn:
        rows = conn.execute(
            select(Customer.name, func.count(Order.id), func.coalesce(func.sum(Order.total), 0))
            .join(Order, Order.customer_id == Customer.id, isouter=True)
            .group_by(Customer.name)
            .order_by(Customer.name)
        ).all()
        assert [(r[0], r[1], str(r[2])) for r in rows] == [
            ("ada", 2, "12.50"),
            ("edsger", 0, "0"),
            ("grace", 1, "7.00"),
        ], rows


def test_orm_relationships_and_rollback():
    with Session(engine) as s:
        # Relationship loading, both strategies.
        ada = s.scalars(
            select(Customer).options(selectinload(Customer.orders)).where(Customer.name == "ada")
        ).one()
        assert [str(o.total) for o in ada.orders] == ["10.00", "2.50"]
        o = s.scalars(select(Order).options(joinedload(Order.customer)).where(Order.total == 7)).one()
        assert o.customer.name == "grace"
        # Unit of work: a new object with children, then a rollback discards it.
        s.add(Customer(name="barbara", orders=[Order(total=1), Order(total=2)]))
        s.flush()
        assert s.scalar(select(func.count()).select_from(Order)) == 5
        s.rollback()
        assert s.scalar(select(func.count()).select_from(Order)) == 3
        assert s.scalar(select(Customer).where(Customer.name == "barbara")) is None
        # Update with the version counter, then delete-orphan cascade.
        o = s.scalars(select(Order).where(Order.total == 7)).one()
        o.total = 8
        s.commit()
        assert o.version == 2
        grace = s.scalars(select(Customer).where(Customer.name == "grace")).one()
        s.delete(grace)
        s.commit()
        assert s.scalar(select(func.count()).select_from(Order)) == 2


def test_nested_transaction_and_integrity_error():
    with Session(engine) as s:
        s.add(Customer(name="alan"))
        try:
            with s.begin_nested():
                s.add(Customer(name="ada"))  # unique violation
                s.flush()
            raise AssertionError("duplicate name accepted")
        except IntegrityError as e:
            assert e.orig.sqlstate == "23505", e.orig.sqlstate
        s.commit()
        names = s.scalars(select(Customer.name).order_by(Customer.name)).all()
        assert names == ["ada", "alan", "edsger"], names
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1


if __name__ == "__main__":
    failed = 0
    for name, fn in list(globals().items()):
        if name.startswith("test_") and callable(fn):
            try:
                fn()
                print(f"ok {name}")
            except Exception as e:  # noqa: BLE001
                failed += 1
                print(f"FAILED {name}: {e!r}")
    sys.exit(1 if failed else 0)
