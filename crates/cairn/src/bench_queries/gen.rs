//! Deterministic data generators for `cairn bench queries`: the eight TPC-H-shaped tables and
//! the skewed tables of the join-order workload, as PostgreSQL COPY text.
//!
//! Role: `bench_queries::run` calls [`tpch_tables`] and [`join_tables`] once per run and
//! streams each table's chunks into Cairn and PostgreSQL alike. This is our own generator
//! (not TPC-H's dbgen): it follows the TPC-H column shapes, value domains and cardinalities
//! per scale factor closely enough for the 22 query shapes to select similar fractions of
//! rows, but it is not a conforming TPC-H data set (dense order keys, simpler texts).
//!
//! Invariants:
//! 1. Same scale factor and seed give byte-identical output: every table draws from its own
//!    [`Rng`] seeded from (seed, table), and nothing reads the clock or a global generator.
//!    Test: `tests::generator_is_deterministic`.
//! 2. Cardinalities per scale factor `sf`: region 5, nation 25, supplier 10,000·sf,
//!    customer 150,000·sf, part 200,000·sf, partsupp 4 per part, orders 1,500,000·sf,
//!    lineitem 1..=7 per order (about 4·orders: sf 1 ≈ 6M); each at least 1 (supplier at
//!    least 4, so a part's four suppliers are distinct). Test: `tests::cardinalities_at_tiny_scale`.
//! 3. Every foreign key references an existing row (orders reference only customers whose
//!    key is not a multiple of 3, as in TPC-H, so a third of the customers have no orders).
//!
//! Text is COPY text format: fields separated by tabs, rows by `\n`; generated values contain
//! no tab, newline or backslash, so nothing needs escaping.

use std::fmt::Write as _;

/// Rows per COPY chunk: each chunk is loaded as one `COPY ... FROM STDIN` statement (one
/// transaction), which bounds the size of Cairn's write transactions.
pub const CHUNK_ROWS: usize = 10_000;

/// A table's rows as COPY text, in chunks of at most [`CHUNK_ROWS`] rows.
#[derive(Debug, Default)]
pub struct TableData {
    pub name: &'static str,
    pub row_count: u64,
    pub chunks: Vec<String>,
    rows_in_last: usize,
}

impl TableData {
    fn new(name: &'static str) -> Self {
        TableData {
            name,
            ..Default::default()
        }
    }

    /// Starts a new row and returns the buffer to write its fields into (tab separated, no
    /// trailing newline: [`TableData::end_row`] adds it).
    fn row(&mut self) -> &mut String {
        if self.chunks.is_empty() || self.rows_in_last >= CHUNK_ROWS {
            self.chunks.push(String::with_capacity(CHUNK_ROWS * 64));
            self.rows_in_last = 0;
        }
        self.rows_in_last += 1;
        self.row_count += 1;
        let last = self.chunks.len() - 1;
        &mut self.chunks[last]
    }

    /// A 64-bit FNV-1a hash of the whole text (for the determinism test).
    #[cfg(test)]
    pub fn digest(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for c in &self.chunks {
            for b in c.bytes() {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        h
    }
}

/// SplitMix64: small, fast, and good enough for benchmark data; our own so the data cannot
/// change with a dependency's version.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64, stream: u64) -> Self {
        let mut r = Rng(seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        r.next_u64();
        r
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi` (`lo <= hi`).
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        debug_assert!(lo <= hi, "range {lo}..={hi}");
        let span = (hi - lo + 1) as u64;
        lo + (self.next_u64() % span) as i64
    }

    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next_u64() % items.len() as u64) as usize]
    }
}

/// Zipf-like sampler over `1..=n` with exponent `s` (rank 1 the most frequent), by binary
/// search in the cumulative distribution.
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    pub fn new(n: u64, s: f64) -> Self {
        let mut cdf = Vec::with_capacity(n as usize);
        let mut sum = 0.0;
        for k in 1..=n.max(1) {
            sum += 1.0 / (k as f64).powf(s);
            cdf.push(sum);
        }
        for c in &mut cdf {
            *c /= sum;
        }
        Zipf { cdf }
    }

    pub fn sample(&self, rng: &mut Rng) -> i64 {
        let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let i = self.cdf.partition_point(|&c| c < u);
        (i.min(self.cdf.len() - 1) + 1) as i64
    }
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = (if y >= 0 { y } else { y - 399 }) / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number, as `YYYY-MM-DD`.
pub fn date_text(days: i64) -> String {
    let z = days + 719_468;
    let era = (if z >= 0 { z } else { z - 146_096 }) / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Cents as `d.cc` (negative values keep their sign).
fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let c = cents.abs();
    format!("{sign}{}.{:02}", c / 100, c % 100)
}

const WORDS: &[&str] = &[
    "furiously",
    "quickly",
    "carefully",
    "blithely",
    "slyly",
    "ironic",
    "final",
    "regular",
    "express",
    "pending",
    "bold",
    "even",
    "special",
    "requests",
    "deposits",
    "accounts",
    "packages",
    "theodolites",
    "pinto",
    "beans",
    "foxes",
    "instructions",
    "dependencies",
    "asymptotes",
    "ideas",
    "platelets",
    "sleep",
    "haggle",
    "wake",
    "nag",
    "cajole",
    "boost",
    "detect",
    "integrate",
    "among",
    "above",
    "after",
    "along",
    "across",
    "the",
    "fluffily",
];

/// Random words up to `max_len` bytes (at least one word).
fn comment(rng: &mut Rng, max_len: usize) -> String {
    let target = rng.range((max_len / 3) as i64, max_len as i64) as usize;
    let mut s = String::new();
    loop {
        let w = rng.pick(WORDS);
        if !s.is_empty() && s.len() + 1 + w.len() > target {
            break;
        }
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(w);
        if s.len() >= target {
            break;
        }
    }
    s.truncate(max_len);
    s
}

const COLORS: &[&str] = &[
    "almond",
    "antique",
    "aquamarine",
    "azure",
    "beige",
    "bisque",
    "black",
    "blanched",
    "blue",
    "blush",
    "brown",
    "burlywood",
    "burnished",
    "chartreuse",
    "chiffon",
    "chocolate",
    "coral",
    "cornflower",
    "cornsilk",
    "cream",
    "cyan",
    "dark",
    "deep",
    "dim",
    "dodger",
    "drab",
    "firebrick",
    "floral",
    "forest",
    "frosted",
    "gainsboro",
    "ghost",
    "goldenrod",
    "green",
    "grey",
    "honeydew",
    "hot",
    "indian",
    "ivory",
    "khaki",
    "lace",
    "lavender",
    "lawn",
    "lemon",
    "light",
    "lime",
    "linen",
    "magenta",
    "maroon",
    "medium",
    "metallic",
    "midnight",
    "mint",
    "misty",
    "moccasin",
    "navajo",
    "navy",
    "olive",
    "orange",
    "orchid",
    "pale",
    "papaya",
    "peach",
    "peru",
    "pink",
    "plum",
    "powder",
    "puff",
    "purple",
    "red",
    "rose",
    "rosy",
    "royal",
    "saddle",
    "salmon",
    "sandy",
    "seashell",
    "sienna",
    "sky",
    "slate",
    "smoke",
    "snow",
    "spring",
    "steel",
    "tan",
    "thistle",
    "tomato",
    "turquoise",
    "violet",
    "wheat",
    "white",
    "yellow",
];
const TYPE_1: &[&str] = &["STANDARD", "SMALL", "MEDIUM", "LARGE", "ECONOMY", "PROMO"];
const TYPE_2: &[&str] = &["ANODIZED", "BURNISHED", "PLATED", "POLISHED", "BRUSHED"];
const TYPE_3: &[&str] = &["TIN", "NICKEL", "BRASS", "STEEL", "COPPER"];
const CONTAINER_1: &[&str] = &["SM", "LG", "MED", "JUMBO", "WRAP"];
const CONTAINER_2: &[&str] = &["CASE", "BOX", "BAG", "JAR", "PKG", "PACK", "CAN", "DRUM"];
const SEGMENTS: &[&str] = &[
    "AUTOMOBILE",
    "BUILDING",
    "FURNITURE",
    "MACHINERY",
    "HOUSEHOLD",
];
const PRIORITIES: &[&str] = &["1-URGENT", "2-HIGH", "3-MEDIUM", "4-NOT SPECIFIED", "5-LOW"];
const INSTRUCTIONS: &[&str] = &[
    "DELIVER IN PERSON",
    "COLLECT COD",
    "NONE",
    "TAKE BACK RETURN",
];
const MODES: &[&str] = &["REG AIR", "AIR", "RAIL", "SHIP", "TRUCK", "MAIL", "FOB"];
const REGIONS: &[&str] = &["AFRICA", "AMERICA", "ASIA", "EUROPE", "MIDDLE EAST"];
/// (name, region key): TPC-H's 25 nations.
const NATIONS: &[(&str, i64)] = &[
    ("ALGERIA", 0),
    ("ARGENTINA", 1),
    ("BRAZIL", 1),
    ("CANADA", 1),
    ("EGYPT", 4),
    ("ETHIOPIA", 0),
    ("FRANCE", 3),
    ("GERMANY", 3),
    ("INDIA", 2),
    ("INDONESIA", 2),
    ("IRAN", 4),
    ("IRAQ", 4),
    ("JAPAN", 2),
    ("JORDAN", 4),
    ("KENYA", 0),
    ("MOROCCO", 0),
    ("MOZAMBIQUE", 0),
    ("PERU", 1),
    ("CHINA", 2),
    ("ROMANIA", 3),
    ("SAUDI ARABIA", 4),
    ("VIETNAM", 2),
    ("RUSSIA", 3),
    ("UNITED KINGDOM", 3),
    ("UNITED STATES", 1),
];

/// Row counts of the TPC-H-shaped tables at scale factor `sf`.
pub struct TpchCounts {
    pub supplier: i64,
    pub customer: i64,
    pub part: i64,
    pub orders: i64,
}

impl TpchCounts {
    pub fn new(sf: f64) -> Self {
        let n = |base: f64, min: i64| ((base * sf).round() as i64).max(min);
        TpchCounts {
            supplier: n(10_000.0, 4),
            customer: n(150_000.0, 3),
            part: n(200_000.0, 1),
            orders: n(1_500_000.0, 1),
        }
    }
}

fn phone(rng: &mut Rng, nation: i64) -> String {
    format!(
        "{}-{}-{}-{}",
        nation + 10,
        rng.range(100, 999),
        rng.range(100, 999),
        rng.range(1000, 9999)
    )
}

/// The `j`-th (0..4) supplier of part `p` among `s` suppliers: four distinct suppliers per
/// part, spread over all of them.
pub fn part_supplier(p: i64, j: i64, s: i64) -> i64 {
    (p - 1 + j * (s / 4) + (p - 1) / s) % s + 1
}

fn retail_cents(p: i64) -> i64 {
    90_000 + ((p / 10) % 20_001) + 100 * (p % 1_000)
}

/// The eight TPC-H-shaped tables, in load order (referenced tables first).
pub fn tpch_tables(sf: f64, seed: u64) -> Vec<TableData> {
    let c = TpchCounts::new(sf);
    let mut out = Vec::new();

    let mut t = TableData::new("region");
    let mut rng = Rng::new(seed, 1);
    for (k, name) in REGIONS.iter().enumerate() {
        let cm = comment(&mut rng, 152);
        let _ = writeln!(t.row(), "{k}\t{name}\t{cm}");
    }
    out.push(t);

    let mut t = TableData::new("nation");
    let mut rng = Rng::new(seed, 2);
    for (k, (name, region)) in NATIONS.iter().enumerate() {
        let cm = comment(&mut rng, 152);
        let _ = writeln!(t.row(), "{k}\t{name}\t{region}\t{cm}");
    }
    out.push(t);

    let mut t = TableData::new("supplier");
    let mut rng = Rng::new(seed, 3);
    for k in 1..=c.supplier {
        let nation = rng.range(0, 24);
        let ph = phone(&mut rng, nation);
        let bal = money(rng.range(-99_999, 999_999));
        let mut cm = comment(&mut rng, 101);
        // TPC-H: a few suppliers have complaints (Q16), a few recommendations.
        match rng.range(0, 1999) {
            0 => cm = format!("{} Customer slyly Complaints", &cm[..cm.len().min(60)]),
            1 => cm = format!("{} Customer Recommends", &cm[..cm.len().min(60)]),
            _ => {}
        }
        let addr = comment(&mut rng, 40);
        let _ = writeln!(
            t.row(),
            "{k}\tSupplier#{k:09}\t{addr}\t{nation}\t{ph}\t{bal}\t{cm}"
        );
    }
    out.push(t);

    let mut t = TableData::new("customer");
    let mut rng = Rng::new(seed, 4);
    for k in 1..=c.customer {
        let nation = rng.range(0, 24);
        let ph = phone(&mut rng, nation);
        let bal = money(rng.range(-99_999, 999_999));
        let seg = rng.pick(SEGMENTS);
        let addr = comment(&mut rng, 40);
        let cm = comment(&mut rng, 117);
        let _ = writeln!(
            t.row(),
            "{k}\tCustomer#{k:09}\t{addr}\t{nation}\t{ph}\t{bal}\t{seg}\t{cm}"
        );
    }
    out.push(t);

    let mut t = TableData::new("part");
    let mut ps = TableData::new("partsupp");
    let mut rng = Rng::new(seed, 5);
    for k in 1..=c.part {
        let mut name = String::new();
        for i in 0..5 {
            if i > 0 {
                name.push(' ');
            }
            name.push_str(rng.pick(COLORS));
        }
        let m = rng.range(1, 5);
        let n = rng.range(1, 5);
        let ty = format!(
            "{} {} {}",
            rng.pick(TYPE_1),
            rng.pick(TYPE_2),
            rng.pick(TYPE_3)
        );
        let size = rng.range(1, 50);
        let cont = format!("{} {}", rng.pick(CONTAINER_1), rng.pick(CONTAINER_2));
        let price = money(retail_cents(k));
        let cm = comment(&mut rng, 23);
        let _ = writeln!(
            t.row(),
            "{k}\t{name}\tManufacturer#{m}\tBrand#{m}{n}\t{ty}\t{size}\t{cont}\t{price}\t{cm}"
        );
        for j in 0..4 {
            let s = part_supplier(k, j, c.supplier);
            let qty = rng.range(1, 9999);
            let cost = money(rng.range(100, 100_000));
            let cm = comment(&mut rng, 199);
            let _ = writeln!(ps.row(), "{k}\t{s}\t{qty}\t{cost}\t{cm}");
        }
    }
    out.push(t);
    out.push(ps);

    let mut o = TableData::new("orders");
    let mut l = TableData::new("lineitem");
    let mut rng = Rng::new(seed, 6);
    let start = days_from_civil(1992, 1, 1);
    let end = days_from_civil(1998, 12, 31) - 151;
    let current = days_from_civil(1995, 6, 17);
    for k in 1..=c.orders {
        let mut cust = rng.range(1, c.customer);
        if cust % 3 == 0 {
            cust = if cust > 1 { cust - 1 } else { 1 };
        }
        let date = rng.range(start, end);
        let prio = rng.pick(PRIORITIES);
        let clerk = rng.range(1, ((1000.0 * sf).round() as i64).max(1));
        let ocm = comment(&mut rng, 79);
        let lines = rng.range(1, 7);
        let mut total: i64 = 0;
        let (mut any_o, mut any_f) = (false, false);
        for ln in 1..=lines {
            let p = rng.range(1, c.part);
            let s = part_supplier(p, rng.range(0, 3), c.supplier);
            let qty = rng.range(1, 50);
            let ext = qty * retail_cents(p);
            let disc = rng.range(0, 10);
            let tax = rng.range(0, 8);
            let ship = date + rng.range(1, 121);
            let commit = date + rng.range(30, 90);
            let receipt = ship + rng.range(1, 30);
            let rf = if receipt <= current {
                if rng.range(0, 1) == 0 {
                    "R"
                } else {
                    "A"
                }
            } else {
                "N"
            };
            let ls = if ship > current { "O" } else { "F" };
            any_o |= ls == "O";
            any_f |= ls == "F";
            total += ext * (100 + tax) * (100 - disc) / 10_000;
            let instr = rng.pick(INSTRUCTIONS);
            let mode = rng.pick(MODES);
            let lcm = comment(&mut rng, 44);
            let _ = writeln!(
                l.row(),
                "{k}\t{p}\t{s}\t{ln}\t{qty}\t{}\t0.{disc:02}\t0.{tax:02}\t{rf}\t{ls}\t{}\t{}\t{}\t{instr}\t{mode}\t{lcm}",
                money(ext),
                date_text(ship),
                date_text(commit),
                date_text(receipt)
            );
        }
        let status = match (any_o, any_f) {
            (true, false) => "O",
            (false, true) => "F",
            _ => "P",
        };
        let _ = writeln!(
            o.row(),
            "{k}\t{cust}\t{status}\t{}\t{}\t{prio}\tClerk#{clerk:09}\t0\t{ocm}",
            money(total),
            date_text(date)
        );
    }
    out.push(o);
    out.push(l);
    out
}

/// Row counts of the join-order workload's tables at scale factor `sf`.
pub struct JoinCounts {
    pub customer: i64,
    pub product: i64,
    pub store: i64,
    pub order: i64,
    pub item: i64,
}

impl JoinCounts {
    pub fn new(sf: f64) -> Self {
        let n = |base: f64, min: i64| ((base * sf).round() as i64).max(min);
        JoinCounts {
            customer: n(200_000.0, 10),
            product: n(100_000.0, 10),
            store: n(2_000.0, 10),
            order: n(1_000_000.0, 10),
            item: n(3_000_000.0, 10),
        }
    }
}

/// Fixed sizes of the join workload's small dimension tables.
pub const J_DEPTS: i64 = 10;
pub const J_CATEGORIES: i64 = 200;
pub const J_COUNTRIES: i64 = 50;
pub const J_CITIES: i64 = 1_000;

/// The join-order workload's nine tables (a snowflake: item → order → customer/store → city
/// → country; item → product → category → dept), every foreign key drawn from a Zipf
/// distribution (exponent 1), so a few parents own most children and the statistics' MCVs
/// matter. Column names carry a table prefix, so derived tables that force a join order can
/// select `*` without ambiguity.
pub fn join_tables(sf: f64, seed: u64) -> Vec<TableData> {
    let c = JoinCounts::new(sf);
    let mut out = Vec::new();

    let mut t = TableData::new("j_dept");
    for k in 1..=J_DEPTS {
        let _ = writeln!(t.row(), "{k}\tdept{k}");
    }
    out.push(t);

    let mut t = TableData::new("j_category");
    let mut rng = Rng::new(seed, 101);
    let z = Zipf::new(J_DEPTS as u64, 1.0);
    for k in 1..=J_CATEGORIES {
        let d = z.sample(&mut rng);
        let _ = writeln!(t.row(), "{k}\t{d}\tcategory{k}");
    }
    out.push(t);

    let mut t = TableData::new("j_product");
    let mut rng = Rng::new(seed, 102);
    let z = Zipf::new(J_CATEGORIES as u64, 1.0);
    for k in 1..=c.product {
        let cat = z.sample(&mut rng);
        let price = rng.range(1, 1000);
        let _ = writeln!(t.row(), "{k}\t{cat}\t{price}");
    }
    out.push(t);

    let mut t = TableData::new("j_country");
    let mut rng = Rng::new(seed, 103);
    for k in 1..=J_COUNTRIES {
        let region = rng.range(0, 4);
        let _ = writeln!(t.row(), "{k}\tcountry{k}\t{region}");
    }
    out.push(t);

    let mut t = TableData::new("j_city");
    let mut rng = Rng::new(seed, 104);
    let z = Zipf::new(J_COUNTRIES as u64, 1.0);
    for k in 1..=J_CITIES {
        let co = z.sample(&mut rng);
        let size = rng.range(1, 10);
        let _ = writeln!(t.row(), "{k}\t{co}\t{size}");
    }
    out.push(t);

    let zc = Zipf::new(J_CITIES as u64, 1.0);
    let mut t = TableData::new("j_customer");
    let mut rng = Rng::new(seed, 105);
    for k in 1..=c.customer {
        let city = zc.sample(&mut rng);
        let seg = rng.range(0, 9);
        let _ = writeln!(t.row(), "{k}\t{city}\t{seg}");
    }
    out.push(t);

    let mut t = TableData::new("j_store");
    let mut rng = Rng::new(seed, 106);
    for k in 1..=c.store {
        let city = zc.sample(&mut rng);
        let kind = rng.range(0, 4);
        let _ = writeln!(t.row(), "{k}\t{city}\t{kind}");
    }
    out.push(t);

    let mut t = TableData::new("j_order");
    let mut rng = Rng::new(seed, 107);
    let zcu = Zipf::new(c.customer as u64, 1.0);
    let zst = Zipf::new(c.store as u64, 1.0);
    for k in 1..=c.order {
        let cu = zcu.sample(&mut rng);
        let st = zst.sample(&mut rng);
        let day = rng.range(0, 999);
        let _ = writeln!(t.row(), "{k}\t{cu}\t{st}\t{day}");
    }
    out.push(t);

    let mut t = TableData::new("j_item");
    let mut rng = Rng::new(seed, 108);
    let zo = Zipf::new(c.order as u64, 0.5);
    let zp = Zipf::new(c.product as u64, 1.0);
    for k in 1..=c.item {
        let o = zo.sample(&mut rng);
        let p = zp.sample(&mut rng);
        let qty = rng.range(1, 10);
        let _ = writeln!(t.row(), "{k}\t{o}\t{p}\t{qty}");
    }
    out.push(t);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generator_is_deterministic() {
        let a: Vec<u64> = tpch_tables(0.001, 7)
            .iter()
            .map(TableData::digest)
            .collect();
        let b: Vec<u64> = tpch_tables(0.001, 7)
            .iter()
            .map(TableData::digest)
            .collect();
        assert_eq!(a, b);
        let c: Vec<u64> = tpch_tables(0.001, 8)
            .iter()
            .map(TableData::digest)
            .collect();
        assert_ne!(a, c, "another seed gives other data");
        let a: Vec<u64> = join_tables(0.001, 7)
            .iter()
            .map(TableData::digest)
            .collect();
        let b: Vec<u64> = join_tables(0.001, 7)
            .iter()
            .map(TableData::digest)
            .collect();
        assert_eq!(a, b);
    }

    #[test]
    fn cardinalities_at_tiny_scale() {
        let t = tpch_tables(0.002, 1);
        let count = |n: &str| t.iter().find(|d| d.name == n).map_or(0, |d| d.row_count);
        assert_eq!(count("region"), 5);
        assert_eq!(count("nation"), 25);
        assert_eq!(count("supplier"), 20);
        assert_eq!(count("customer"), 300);
        assert_eq!(count("part"), 400);
        assert_eq!(count("partsupp"), 1600);
        assert_eq!(count("orders"), 3000);
        let li = count("lineitem");
        assert!((11_000..=13_000).contains(&li), "lineitem {li}");
        // Every row has the table's column count.
        for (name, cols) in [
            ("lineitem", 16),
            ("orders", 9),
            ("part", 9),
            ("supplier", 7),
        ] {
            let d = t.iter().find(|d| d.name == name).expect("table generated");
            for line in d.chunks.iter().flat_map(|c| c.lines()) {
                assert_eq!(line.split('\t').count(), cols, "{name}: {line}");
            }
        }
        let j = join_tables(0.001, 1);
        let count = |n: &str| j.iter().find(|d| d.name == n).map_or(0, |d| d.row_count);
        assert_eq!(count("j_item"), 3000);
        assert_eq!(count("j_order"), 1000);
        assert_eq!(count("j_city"), J_CITIES as u64);
    }

    #[test]
    fn dates_round_trip() {
        assert_eq!(date_text(days_from_civil(1995, 6, 17)), "1995-06-17");
        assert_eq!(date_text(days_from_civil(2000, 2, 29)), "2000-02-29");
        assert_eq!(days_from_civil(1970, 1, 1), 0);
    }

    #[test]
    fn part_suppliers_are_distinct() {
        for s in [4, 5, 20, 1000] {
            for p in 1..200 {
                let mut v: Vec<i64> = (0..4).map(|j| part_supplier(p, j, s)).collect();
                assert!(v.iter().all(|&x| (1..=s).contains(&x)));
                v.sort_unstable();
                v.dedup();
                assert_eq!(v.len(), 4, "part {p} suppliers {s}");
            }
        }
    }
}
