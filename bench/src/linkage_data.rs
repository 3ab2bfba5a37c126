//! Writes the demo city's keyless clinic records (门诊就诊登记信息) and its household register
//! (户籍人口基本信息) at a given scale as linkage inputs, with the truth the generator knows:
//! the same rows `shuniu demo` loads, for linking them outside the hub against a peer tool.
//!
//!     linkage-data SCALE OUT_DIR [SEED]
//!
//! OUT_DIR/register.csv and OUT_DIR/visits.csv: `rid,name,birth_date,address,mobile,id_no`
//! (the register's `id_no` is its ID number, a visit's is the 15-digit number some old systems
//! still hold, mostly empty); OUT_DIR/truth.csv: `rid,id_number` for the visits.

use std::io::Write;

use anyhow::{Context, Result, bail};
use shuniu_demo::data::DatasetPlan;
use shuniu_demo::{Fate, Subject};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(scale), Some(out)) = (args.get(1), args.get(2)) else {
        bail!("usage: linkage-data SCALE OUT_DIR [SEED]");
    };
    let scale: u64 = scale.parse().context("SCALE")?;
    let seed: u64 = args
        .get(3)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(20260101);
    let out = std::path::PathBuf::from(out);
    std::fs::create_dir_all(&out)?;
    let city = shuniu_demo::generate(seed);
    let find = |pick: &dyn Fn(&shuniu_demo::DemoResource) -> bool| {
        city.resources
            .iter()
            .enumerate()
            .find(|(_, r)| matches!(r.fate, Fate::Published | Fate::Withdrawn(_)) && pick(r))
    };
    let (ri, register) =
        find(&|r| r.input.name == "户籍人口基本信息" && r.input.provider.ends_with("GA"))
            .context("the household register")?;
    let (vi, visits) =
        find(&|r| r.subject == Subject::Keyless && r.input.name == "门诊就诊登记信息")
            .context("the clinic visits")?;
    let columns = |r: &shuniu_demo::DemoResource| -> Vec<String> {
        r.input.data_items.iter().map(|i| i.name.clone()).collect()
    };
    let write = |name: &str,
                 plan: &DatasetPlan,
                 cols: &[String],
                 id: &str,
                 id_no: &str,
                 truth: Option<&mut std::io::BufWriter<std::fs::File>>|
     -> Result<u64> {
        let pos = |c: &str| cols.iter().position(|x| x == c);
        let picks = [
            pos(id),
            pos("name"),
            pos("birth_date"),
            pos("address"),
            pos("mobile"),
            pos(id_no),
        ];
        let mut w = std::io::BufWriter::new(std::fs::File::create(out.join(name))?);
        writeln!(w, "rid,name,birth_date,address,mobile,id_no")?;
        let mut truth = truth;
        let mut n = 0;
        let mut seen = std::collections::HashSet::new();
        for (row, person) in plan.rows_with_truth(city.seed, scale) {
            let cell = |p: Option<usize>| {
                p.and_then(|i| row.get(i).cloned().flatten())
                    .unwrap_or_default()
                    .replace([',', '"', '\n'], " ")
            };
            let rid = cell(picks[0]);
            // A record without its identifier cannot be reported on; a duplicated row once.
            if rid.is_empty() || !seen.insert(rid.clone()) {
                continue;
            }
            let cells: Vec<String> = picks.iter().map(|p| cell(*p)).collect();
            writeln!(w, "{}", cells.join(","))?;
            if let Some(t) = truth.as_deref_mut() {
                writeln!(t, "{rid},{person}")?;
            }
            n += 1;
        }
        w.flush()?;
        Ok(n)
    };
    let register_plan = DatasetPlan::for_resource(register, ri, scale, 0.02);
    let n_register = write(
        "register.csv",
        &register_plan,
        &columns(register),
        "id_number",
        "id_number",
        None,
    )?;
    let mut truth = std::io::BufWriter::new(std::fs::File::create(out.join("truth.csv"))?);
    writeln!(truth, "rid,id_number")?;
    let visits_plan = DatasetPlan::for_resource(visits, vi, scale, 0.02);
    let n_visits = write(
        "visits.csv",
        &visits_plan,
        &columns(visits),
        "record_id",
        "legacy_id",
        Some(&mut truth),
    )?;
    truth.flush()?;
    println!("{{\"register\": {n_register}, \"visits\": {n_visits}}}");
    Ok(())
}
