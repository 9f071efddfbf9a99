// SHA-256 (FIPS 180-4) of felts written as 32-byte big-endian words: `felts_digest` of
// p2p/messages.py, the hash a stream reply signs over a request's input and its output.
//
// Words are u128s below 2**32, so the bitwise builtin applies to them directly; sums are felt252s,
// reduced modulo 2**32 once, when a word is needed. A rotation needs no division: x * (2**32 + 1)
// holds x twice, and bits 32..63 of that shifted left by 32 - n are x rotated right by n; the
// three shifted copies of a sigma function are XORed first, then those bits are taken once.
use array::{ArrayTrait, SpanTrait};
use integer::{
    U128sFromFelt252Result, bitwise, u128_safe_divmod, u128_to_felt252, u128s_from_felt252
};
use option::OptionTrait;
use traits::{Into, TryInto};

const TWO_POW_32: u128 = 0x100000000;
const TWO_POW_64: u128 = 0x10000000000000000;
const TWO_POW_96: u128 = 0x1000000000000000000000000;
const LOW_WORD: u128 = 0xffffffff;
const HIGH_WORD: u128 = 0xffffffff00000000;
// x * TWICE = x || x for a 32-bit x.
const TWICE: felt252 = 0x100000001;
// The inverse of 2**32 modulo the field prime: multiplying by it divides a multiple of 2**32.
const INVERSE_TWO_POW_32: felt252 =
    0x7fffffff8000010ffffffef0000000000000000000000000000000000000001;

// The digest of the felts, as a u256 whose big-endian bytes are the SHA-256 digest.
fn felts_digest(felts: Span<felt252>) -> u256 {
    let mut words = padded_words(felts);
    let mut state = array![
        0x6a09e667_u128,
        0xbb67ae85,
        0x3c6ef372,
        0xa54ff53a,
        0x510e527f,
        0x9b05688c,
        0x1f83d9ab,
        0x5be0cd19
    ]
        .span();
    let round_constants = round_constants();
    loop {
        if words.len() == 0 {
            break;
        }
        state = compress(state, words.slice(0, 16), round_constants);
        words = words.slice(16, words.len() - 16);
    };
    u256 { low: join(state.slice(4, 4)), high: join(state.slice(0, 4)) }
}

// The message as 32-bit big-endian words, padded to whole 512-bit blocks.
fn padded_words(felts: Span<felt252>) -> Span<u128> {
    let mut words = ArrayTrait::new();
    let mut felts = felts;
    loop {
        match felts.pop_front() {
            Option::Some(value) => {
                let value: u256 = (*value).into();
                append_words(ref words, value.high);
                append_words(ref words, value.low);
            },
            Option::None(()) => {
                break;
            },
        };
    };
    let bits: u128 = words.len().into() * 32;
    words.append(0x80000000);
    loop {
        if words.len() % 16 == 14 {
            break;
        }
        words.append(0);
    };
    let (high, low) = u128_safe_divmod(bits, TWO_POW_32.try_into().unwrap());
    words.append(high);
    words.append(low);
    words.span()
}

fn append_words(ref words: Array<u128>, value: u128) {
    let (first, rest) = u128_safe_divmod(value, TWO_POW_96.try_into().unwrap());
    let (second, rest) = u128_safe_divmod(rest, TWO_POW_64.try_into().unwrap());
    let (third, fourth) = u128_safe_divmod(rest, TWO_POW_32.try_into().unwrap());
    words.append(first);
    words.append(second);
    words.append(third);
    words.append(fourth);
}

// Four words, big-endian, as one u128.
fn join(words: Span<u128>) -> u128 {
    *words[0] * TWO_POW_96 + *words[1] * TWO_POW_64 + *words[2] * TWO_POW_32 + *words[3]
}

// One block (16 words) folded into the state (8 words).
fn compress(state: Span<u128>, block: Span<u128>, round_constants: Span<felt252>) -> Span<u128> {
    let mut schedule = message_schedule(block);
    let mut round_constants = round_constants;
    let mut a = *state[0];
    let mut b = *state[1];
    let mut c = *state[2];
    let mut d = *state[3];
    let mut e = *state[4];
    let mut f = *state[5];
    let mut g = *state[6];
    let mut h = *state[7];
    loop {
        let k = match round_constants.pop_front() {
            Option::Some(k) => *k,
            Option::None(()) => {
                break;
            },
        };
        let choice = g ^ (e & (f ^ g));
        let (a_and_b, _, a_or_b) = bitwise(a, b);
        let majority = a_and_b | (c & a_or_b);
        let w = *schedule.pop_front().unwrap();
        let t1 = felt(h) + big_sigma1(e) + felt(choice) + k + felt(w);
        let t2 = big_sigma0(a) + felt(majority);
        h = g;
        g = f;
        f = e;
        e = reduce(felt(d) + t1);
        d = c;
        c = b;
        b = a;
        a = reduce(t1 + t2);
    };
    array![
        add(*state[0], a),
        add(*state[1], b),
        add(*state[2], c),
        add(*state[3], d),
        add(*state[4], e),
        add(*state[5], f),
        add(*state[6], g),
        add(*state[7], h)
    ]
        .span()
}

fn message_schedule(block: Span<u128>) -> Span<u128> {
    let mut schedule = ArrayTrait::new();
    let mut i = 0;
    loop {
        if i == 16 {
            break;
        }
        schedule.append(*block[i]);
        i += 1;
    };
    loop {
        if i == 64 {
            break;
        }
        let sum = small_sigma1(*schedule[i - 2])
            + felt(*schedule[i - 7])
            + small_sigma0(*schedule[i - 15])
            + felt(*schedule[i - 16]);
        schedule.append(reduce(sum));
        i += 1;
    };
    schedule.span()
}

#[inline(always)]
fn add(x: u128, y: u128) -> u128 {
    reduce(felt(x) + felt(y))
}

// A sum of a few words, modulo 2**32.
#[inline(always)]
fn reduce(sum: felt252) -> u128 {
    word(sum) & LOW_WORD
}

// Bits 32..63 of `value`, as a felt.
#[inline(always)]
fn middle_word(value: u128) -> felt252 {
    u128_to_felt252(value & HIGH_WORD) * INVERSE_TWO_POW_32
}

#[inline(always)]
fn shifted(value: felt252, factor: felt252) -> u128 {
    word(value * factor)
}

// A felt known to be below 2**128 (a shifted word or a sum of words), as a u128.
#[inline(always)]
fn word(value: felt252) -> u128 {
    match u128s_from_felt252(value) {
        U128sFromFelt252Result::Narrow(x) => x,
        U128sFromFelt252Result::Wide(_) => {
            panic_with_felt252('sha256: not a word');
            0
        },
    }
}

#[inline(always)]
fn felt(value: u128) -> felt252 {
    u128_to_felt252(value)
}

// rotr(x, 2) ^ rotr(x, 13) ^ rotr(x, 22)
#[inline(always)]
fn big_sigma0(x: u128) -> felt252 {
    let twice = felt(x) * TWICE;
    let mixed = shifted(twice, 0x40000000) ^ shifted(twice, 0x80000) ^ shifted(twice, 0x400);
    middle_word(mixed)
}

// rotr(x, 6) ^ rotr(x, 11) ^ rotr(x, 25)
#[inline(always)]
fn big_sigma1(x: u128) -> felt252 {
    let twice = felt(x) * TWICE;
    let mixed = shifted(twice, 0x4000000) ^ shifted(twice, 0x200000) ^ shifted(twice, 0x80);
    middle_word(mixed)
}

// rotr(x, 7) ^ rotr(x, 18) ^ (x >> 3)
#[inline(always)]
fn small_sigma0(x: u128) -> felt252 {
    let twice = felt(x) * TWICE;
    let mixed = shifted(twice, 0x2000000) ^ shifted(twice, 0x4000) ^ shifted(felt(x), 0x20000000);
    middle_word(mixed)
}

// rotr(x, 17) ^ rotr(x, 19) ^ (x >> 10)
#[inline(always)]
fn small_sigma1(x: u128) -> felt252 {
    let twice = felt(x) * TWICE;
    let mixed = shifted(twice, 0x8000) ^ shifted(twice, 0x2000) ^ shifted(felt(x), 0x400000);
    middle_word(mixed)
}

fn round_constants() -> Span<felt252> {
    array![
        0x428a2f98,
        0x71374491,
        0xb5c0fbcf,
        0xe9b5dba5,
        0x3956c25b,
        0x59f111f1,
        0x923f82a4,
        0xab1c5ed5,
        0xd807aa98,
        0x12835b01,
        0x243185be,
        0x550c7dc3,
        0x72be5d74,
        0x80deb1fe,
        0x9bdc06a7,
        0xc19bf174,
        0xe49b69c1,
        0xefbe4786,
        0x0fc19dc6,
        0x240ca1cc,
        0x2de92c6f,
        0x4a7484aa,
        0x5cb0a9dc,
        0x76f988da,
        0x983e5152,
        0xa831c66d,
        0xb00327c8,
        0xbf597fc7,
        0xc6e00bf3,
        0xd5a79147,
        0x06ca6351,
        0x14292967,
        0x27b70a85,
        0x2e1b2138,
        0x4d2c6dfc,
        0x53380d13,
        0x650a7354,
        0x766a0abb,
        0x81c2c92e,
        0x92722c85,
        0xa2bfe8a1,
        0xa81a664b,
        0xc24b8b70,
        0xc76c51a3,
        0xd192e819,
        0xd6990624,
        0xf40e3585,
        0x106aa070,
        0x19a4c116,
        0x1e376c08,
        0x2748774c,
        0x34b0bcb5,
        0x391c0cb3,
        0x4ed8aa4a,
        0x5b9cca4f,
        0x682e6ff3,
        0x748f82ee,
        0x78a5636f,
        0x84c87814,
        0x8cc70208,
        0x90befffa,
        0xa4506ceb,
        0xbef9a3f7,
        0xc67178f2
    ]
        .span()
}
