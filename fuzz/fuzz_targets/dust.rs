//! The SDUST masker on arbitrary bytes and options: no panic; intervals sorted, disjoint,
//! inside the input and free of ambiguous bases; the same intervals whatever the chunking,
//! and from letters or codes alike.
#![no_main]

use entroseg_core::genomic::dna::{self, AMBIGUOUS, LETTER_CLASS};
use entroseg_core::genomic::dust::{sdust, DustOptions, Sdust};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [w, level, cut, rest @ ..] = data else {
        return;
    };
    let options = DustOptions {
        window: 4 + *w as usize,
        level: *level as u32 / 4,
    };
    let mut masker = Sdust::new(options).expect("valid options");
    masker.push_letters_lenient(rest);
    let whole = masker.finish();
    let mut prev_end = None;
    for &(s, e) in &whole {
        assert!(s < e && e as usize <= rest.len());
        assert!(prev_end.is_none_or(|p| p < s));
        prev_end = Some(e);
        assert!(rest[s as usize..e as usize]
            .iter()
            .all(|&b| LETTER_CLASS[b as usize] < AMBIGUOUS));
    }
    // Chunked input with settled intervals handed out early gives the same result.
    let cut = (*cut as usize * rest.len()) / 256;
    let mut chunked = Sdust::new(options).expect("valid options");
    chunked.push_letters_lenient(&rest[..cut]);
    let mut got = chunked.take_settled();
    chunked.push_letters_lenient(&rest[cut..]);
    got.extend(chunked.finish());
    assert_eq!(got, whole);
    // Strict letters: either the same intervals or an error at the first bad byte.
    match sdust(rest, options) {
        Ok(strict) => {
            assert_eq!(dna::first_invalid(rest), None);
            let lenient_view: Vec<u8> = rest.to_vec();
            let mut m = Sdust::new(options).expect("valid options");
            m.push_letters_lenient(&lenient_view);
            assert_eq!(strict, m.finish());
            let codes = dna::encode(rest).expect("validated");
            assert_eq!(
                entroseg_core::genomic::dust::sdust_codes(&codes, options).expect("codes"),
                strict
            );
        }
        Err(_) => assert!(dna::first_invalid(rest).is_some()),
    }
});
