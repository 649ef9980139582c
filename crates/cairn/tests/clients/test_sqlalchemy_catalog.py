"""SQLAlchemy 2's PostgreSQL inspector (over psycopg 3) against CAIRN_URL: prints what it
reports about the test schema of crates/cairn/tests/pg/catalog.rs, one fact per line, for
the Rust test to compare with PostgreSQL 15's answers."""
import os

from sqlalchemy import create_engine, inspect

url = os.environ["CAIRN_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
# The dialect's defaults: its hstore lookup runs in a nested transaction (SAVEPOINT).
engine = create_engine(url)
insp = inspect(engine)
print("has_table t:", insp.has_table("t"))
print("has_table nope:", insp.has_table("nope"))
print("tables:", sorted(insp.get_table_names()))
print("views:", sorted(insp.get_view_names()))
for table in ["t", "s"]:
    for c in insp.get_columns(table):
        print(f"column {table}.{c['name']}:", c["type"], c["nullable"], c["default"], c.get("autoincrement"))
    print(f"pk {table}:", insp.get_pk_constraint(table))
    for i in insp.get_indexes(table):
        print(f"index {table}:", i)
    print(f"unique {table}:", insp.get_unique_constraints(table))
    print(f"fks {table}:", insp.get_foreign_keys(table))
    print(f"checks {table}:", insp.get_check_constraints(table))
print("server major:", engine.dialect.server_version_info[0])
print("ok sqlalchemy inspector")
