//! `MUL` and `EXP` with 256-bit products that WebAssembly computes inline.
//!
//! revm multiplies with ruint, which forms each 64 × 64 → 128-bit partial product as a
//! `u128` multiply. wasm32 has no instruction for that (the wide-arithmetic proposal's
//! `i64.mul_wide_u` stays off, see `host/build.rs`), so LLVM calls compiler-builtins'
//! `__multi3` — a full 128 × 128-bit multiply, its result returned through the shadow
//! stack — for every partial product: on `EXP`-heavy code most of the module's time.
//! Here a partial product is four 32 × 32 → 64-bit multiplies, inline, in
//! WebAssembly, and natively the same single `u128` multiply ruint uses; the schoolbook
//! order and the exponentiation by squaring are ruint's. Same products, so the same
//! bits as revm's `mul` and `exp` (the tests below compare them on random operands,
//! and the dispatch test runs both opcodes against revm's table).

use revm::interpreter::interpreter::EthInterpreter;
use revm::interpreter::{Host, InstructionContext, InstructionExecResult, gas, popn_top};
use revm::primitives::U256;

/// `MUL`: revm's `arithmetic::mul` with [`wrapping_mul`].
#[inline(always)]
pub fn mul<H: Host + ?Sized>(
    context: InstructionContext<'_, H, EthInterpreter>,
) -> InstructionExecResult {
    popn_top!([op1], op2, context.interpreter);
    *op2 = wrapping_mul(&op1, op2);
    Ok(())
}

/// `EXP`: revm's `arithmetic::exp` with [`wrapping_pow`].
#[inline(always)]
pub fn exp<H: Host + ?Sized>(
    context: InstructionContext<'_, H, EthInterpreter>,
) -> InstructionExecResult {
    popn_top!([op1], op2, context.interpreter);
    gas!(
        context.interpreter,
        context.host.gas_params().exp_cost(*op2)
    );
    *op2 = wrapping_pow(op1, op2);
    Ok(())
}

/// `a * b` modulo 2^256, kept out of the dispatch loop as [`wrapping_pow`] is: every
/// body inlined into the loop adds to the register pressure of every opcode.
#[inline(never)]
fn wrapping_mul(a: &U256, b: &U256) -> U256 {
    mul_inline(a, b)
}

/// `a * b` modulo 2^256: ruint's `addmul_n_small` for four limbs.
#[inline(always)]
fn mul_inline(a: &U256, b: &U256) -> U256 {
    let (a, b) = (a.as_limbs(), b.as_limbs());
    let mut r = [0u64; 4];
    for j in 0..4 {
        let mut carry = 0;
        // Widening products below the top limb; the top one is truncated.
        for i in 0..3 - j {
            (r[i + j], carry) = mul_add2(a[i], b[j], carry, r[i + j]);
        }
        r[3] = a[3 - j]
            .wrapping_mul(b[j])
            .wrapping_add(r[3])
            .wrapping_add(carry);
    }
    U256::from_limbs(r)
}

/// `base ^ exp` modulo 2^256: ruint's `wrapping_pow`, whose shortcut for small
/// powers of two (shifts, no products) it keeps.
#[inline(never)]
fn wrapping_pow(mut base: U256, exp: &U256) -> U256 {
    let limbs = base.as_limbs();
    if limbs[0].is_power_of_two() && limbs[1..].iter().all(|&l| l == 0) {
        return base.pow(*exp);
    }
    let mut result = U256::ONE;
    let bits = exp.bit_len();
    for bit in 0..bits {
        if exp.bit(bit) {
            result = mul_inline(&result, &base);
        }
        if bit + 1 < bits {
            base = mul_inline(&base, &base);
        }
    }
    result
}

/// `a * b + c + d` as (low, high) limbs; it cannot exceed 128 bits.
#[inline(always)]
fn mul_add2(a: u64, b: u64, c: u64, d: u64) -> (u64, u64) {
    #[cfg(target_arch = "wasm32")]
    {
        mul_add2_halves(a, b, c, d)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let t = u128::from(a) * u128::from(b) + u128::from(c) + u128::from(d);
        (t as u64, (t >> 64) as u64)
    }
}

/// [`mul_add2`] from 32-bit halves: 64-bit multiplies only.
#[inline(always)]
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
fn mul_add2_halves(a: u64, b: u64, c: u64, d: u64) -> (u64, u64) {
    const LOW: u64 = 0xffff_ffff;
    let (a0, a1, b0, b1) = (a & LOW, a >> 32, b & LOW, b >> 32);
    let (p00, p01, p10, p11) = (a0 * b0, a0 * b1, a1 * b0, a1 * b1);
    // Bits 32–95 before carries: below 3 · 2^32, so no overflow.
    let middle = (p00 >> 32) + (p01 & LOW) + (p10 & LOW);
    let low = (p00 & LOW) | (middle << 32);
    let high = p11 + (p01 >> 32) + (p10 >> 32) + (middle >> 32);
    let (low, carry_c) = low.overflowing_add(c);
    let (low, carry_d) = low.overflowing_add(d);
    (low, high + u64::from(carry_c) + u64::from(carry_d))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic stream of operands biased towards edge cases: zero, one, all
    /// ones, single limbs, powers of two and their neighbours, and random bits.
    fn operands(count: usize) -> Vec<U256> {
        let mut state = 0x243f_6a88_85a3_08d3_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        (0..count)
            .map(|_| {
                let limbs = [next(), next(), next(), next()];
                match next() % 8 {
                    0 => U256::ZERO,
                    1 => U256::ONE,
                    2 => U256::MAX,
                    3 => U256::from(limbs[0]),
                    4 => U256::ONE << (limbs[0] % 256),
                    5 => (U256::ONE << (limbs[0] % 256)).wrapping_sub(U256::ONE),
                    6 => U256::from_limbs([limbs[0], 0, limbs[2], u64::MAX]),
                    _ => U256::from_limbs(limbs),
                }
            })
            .collect()
    }

    #[test]
    fn halves_give_the_u128_product() {
        let edge = [0, 1, 2, 0xffff_ffff, 0x1_0000_0000, u64::MAX - 1, u64::MAX];
        let mut words: Vec<u64> = edge.to_vec();
        words.extend(operands(200).iter().map(|x| x.as_limbs()[0]));
        for &a in &words {
            for &b in &words {
                for (c, d) in [(0, 0), (u64::MAX, u64::MAX), (a, b)] {
                    let t = u128::from(a) * u128::from(b) + u128::from(c) + u128::from(d);
                    let want = (t as u64, (t >> 64) as u64);
                    assert_eq!(
                        mul_add2_halves(a, b, c, d),
                        want,
                        "{a:#x} * {b:#x} + {c:#x} + {d:#x}"
                    );
                }
            }
        }
    }

    #[test]
    fn mul_and_pow_are_ruints() {
        let xs = operands(300);
        for a in &xs {
            for b in &xs {
                assert_eq!(wrapping_mul(a, b), a.wrapping_mul(*b), "{a} * {b}");
            }
        }
        let small_exponents = (0..70u64).map(U256::from);
        for base in xs.iter().take(60) {
            for exp in xs.iter().take(60).copied().chain(small_exponents.clone()) {
                assert_eq!(wrapping_pow(*base, &exp), base.pow(exp), "{base} ^ {exp}");
            }
        }
    }
}
