//! `tsc-khz`: prints the rate of this host's time stamp counter, in kHz.
//!
//! Under QEMU's software emulation the guest's TSC is the host's (QEMU answers `rdtsc` with the
//! host's counter), so the guest's TSC rate is the host's. The guest still measures it at boot,
//! against the PIT and the HPET, and on a loaded host the PIT can answer a thirtieth of the truth;
//! the kernel then believes the PIT ("PIT calibration deviates from HPET: 285275 2443757"), and
//! the guest's clock, with every timeout and detector that reads it, runs thirty times fast.
//! `scripts/guest/vm.sh` measures the rate here once and hands it to the guest (`tsc_early_khz=`).
//!
//! The count is taken against `CLOCK_MONOTONIC` over a fifth of a second, three times; each end of
//! an interval is a counter read between two clock reads that are close together, so that being
//! preempted between them (the host is busy with guests) cannot skew it. Exits 1 with a message,
//! printing nothing on standard output, when the rate cannot be trusted: no constant-rate TSC, or
//! measurements that disagree.

use std::process::ExitCode;
use std::time::{Duration, Instant};

/// How long each measurement counts.
const SPAN: Duration = Duration::from_millis(200);
/// The widest clock bracket around a counter read that is kept.
const BRACKET: Duration = Duration::from_micros(20);
/// Measurements taken; their median is printed.
const ROUNDS: usize = 3;

fn main() -> ExitCode {
    match measure() {
        Ok(khz) => {
            println!("{khz}");
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("tsc-khz: {why}");
            ExitCode::FAILURE
        }
    }
}

/// The counter's rate in kHz, the median of `ROUNDS` measurements.
fn measure() -> Result<u64, String> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo")
        .map_err(|e| format!("cannot read /proc/cpuinfo: {e}"))?;
    if !has_flag(&cpuinfo, "constant_tsc") {
        return Err("this CPU's TSC does not tick at a constant rate".into());
    }
    let mut rates = (0..ROUNDS)
        .map(|_| {
            let (t0, c0) = sample()?;
            std::thread::sleep(SPAN);
            let (t1, c1) = sample()?;
            let ns = t1.duration_since(t0).as_nanos();
            let ticks = u128::from(c1.wrapping_sub(c0));
            u64::try_from(ticks * 1_000_000 / ns).map_err(|_| "an impossible rate".to_string())
        })
        .collect::<Result<Vec<u64>, String>>()?;
    rates.sort_unstable();
    let (low, mid, high) = (rates[0], rates[ROUNDS / 2], rates[ROUNDS - 1]);
    // 0.1 % apart at most: the guest accepts a correction of up to 1 % later.
    if (high - low) * 1000 > mid {
        return Err(format!("measurements disagree: {rates:?} kHz"));
    }
    Ok(mid)
}

/// A counter read and the moment it was taken: the middle of two clock reads at most `BRACKET`
/// apart, trying up to a thousand times.
fn sample() -> Result<(Instant, u64), String> {
    for _ in 0..1000 {
        let before = Instant::now();
        let tsc = rdtsc();
        let after = Instant::now();
        let width = after.duration_since(before);
        if width <= BRACKET {
            return Ok((before + width / 2, tsc));
        }
    }
    Err("could not read the counter without being preempted".into())
}

/// The time stamp counter (the lab runs on x86_64 hosts only).
fn rdtsc() -> u64 {
    // SAFETY: `rdtsc` reads the time stamp counter and touches no memory; every x86_64 CPU has
    // it, and user space may run it unless the kernel forbids it (CR4.TSD), which Linux does only
    // for tasks that ask to (prctl PR_SET_TSC) and this one does not.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Whether the `flags` line of `cpuinfo` lists `flag`.
fn has_flag(cpuinfo: &str, flag: &str) -> bool {
    cpuinfo
        .lines()
        .find(|l| l.starts_with("flags"))
        .and_then(|l| l.split_once(':'))
        .is_some_and(|(_, flags)| flags.split_whitespace().any(|f| f == flag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_flags_on_the_flags_line_only() {
        let info = "model name\t: constant_tsc CPU\nflags\t\t: fpu tsc constant_tsc nonstop_tsc\n";
        assert!(has_flag(info, "constant_tsc"));
        assert!(!has_flag(info, "tsc_known_freq"));
        assert!(!has_flag("model name\t: constant_tsc\n", "constant_tsc"));
    }

    #[test]
    fn measures_this_host() {
        // The machines this runs on have a constant-rate TSC between 100 MHz and 10 GHz.
        let khz = measure().expect("a rate");
        assert!((100_000..10_000_000).contains(&khz), "{khz} kHz");
    }
}
