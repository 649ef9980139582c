//! The binary wire forms of NUMERIC, date/time, interval, UUID, JSON(B) and arrays through
//! tokio-postgres's extended protocol: result columns and parameters as raw bytes, and the
//! type OIDs in RowDescription and ParameterDescription. The expected bytes are what
//! PostgreSQL 15.18's `*_send` functions produce; with `CAIRN_SLT_POSTGRES` set the test runs
//! against that server instead, which is how the expectations were checked.

use std::error::Error;

use bytes::BytesMut;
use tokio_postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};

use crate::server::{connect, runtime, TestServer};

/// Any column, as the bytes the server sent.
struct Raw(Vec<u8>);

impl<'a> FromSql<'a> for Raw {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        Ok(Raw(raw.to_vec()))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// Any parameter, as bytes in the type's binary form.
#[derive(Debug)]
struct RawParam(Vec<u8>);

impl ToSql for RawParam {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        out.extend_from_slice(&self.0);
        Ok(IsNull::No)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

#[test]
fn new_types_travel_in_postgres_binary_format() {
    let server = match std::env::var("CAIRN_SLT_POSTGRES") {
        Ok(_) => None,
        Err(_) => Some(TestServer::start()),
    };
    let config = match &server {
        Some(s) => s.config(),
        None => format!(
            "{} dbname=postgres",
            std::env::var("CAIRN_SLT_POSTGRES").expect("set")
        ),
    };
    runtime().block_on(async {
        let c = connect(&config).await;
        let rows = c
            .query(
                "SELECT 12.50::numeric, DATE '2024-03-01', TIME '12:34:56.789', \
                 TIMESTAMP '2024-03-01 12:34:56.789', TIMESTAMPTZ '2024-03-01 12:34:56.789+00', \
                 INTERVAL '1 mon 1 day 02:00', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid, \
                 '{\"a\": [1, 2.5]}'::jsonb, ARRAY[1, NULL, 3], ARRAY['a', 'b c'], \
                 '{\"a\" : 1}'::json",
                &[],
            )
            .await
            .expect("query");
        let row = &rows[0];
        let oids: Vec<u32> = row.columns().iter().map(|c| c.type_().oid()).collect();
        assert_eq!(
            oids,
            [1700, 1082, 1083, 1114, 1184, 1186, 2950, 3802, 1007, 1009, 114]
        );
        let want = [
            "0002000000000002000c1388",
            "0000227a",
            "0000000a8be62608",
            "0002b5975f49e608",
            "0002b5975f49e608",
            "00000001ad2748000000000100000001",
            "a0eebc999c0b4ef8bb6d6bb9bd380a11",
            "017b2261223a205b312c20322e355d7d",
            "00000001000000010000001700000003000000010000000400000001ffffffff0000000400000003",
            "0000000100000000000000190000000200000001000000016100000003622063",
            "7b226122203a20317d",
        ];
        for (i, w) in want.iter().enumerate() {
            let got: Raw = row.get(i);
            assert_eq!(hex(&got.0), *w, "column {i}");
        }
        // Parameters sent in binary, typed by the server from the casts.
        let stmt = c
            .prepare(
                "SELECT $1::numeric + 1, $2::date + 1, $3::interval * 2, $4::uuid, \
                 $5::jsonb -> 'a', $6::int[] || 4",
            )
            .await
            .expect("prepare");
        let param_oids: Vec<u32> = stmt.params().iter().map(|t| t.oid()).collect();
        assert_eq!(param_oids, [1700, 1082, 1186, 2950, 3802, 1007]);
        let params = [
            RawParam(unhex("0002000000000002000c1388")),
            RawParam(unhex("0000227a")),
            RawParam(unhex("00000001ad2748000000000100000001")),
            RawParam(unhex("a0eebc999c0b4ef8bb6d6bb9bd380a11")),
            RawParam(unhex("017b2261223a205b312c20322e355d7d")),
            RawParam(unhex(
                "00000001000000010000001700000003000000010000000400000001ffffffff0000000400000003",
            )),
        ];
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let rows = c.query(&stmt, &refs).await.expect("execute");
        let want = [
            "0002000000000002000d1388",
            "0000227b",
            "000000035a4e90000000000200000002",
            "a0eebc999c0b4ef8bb6d6bb9bd380a11",
            "015b312c20322e355d",
            "00000001000000010000001700000004000000010000000400000001ffffffff00000004000000030000000400000004",
        ];
        for (i, w) in want.iter().enumerate() {
            let got: Raw = rows[0].get(i);
            assert_eq!(hex(&got.0), *w, "result {i}");
        }
    });
}
