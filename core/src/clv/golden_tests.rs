//! Bit-exact outputs of the fits and predictions, recorded before the split of this module
//! into files and the purchase-model trait (issue 17 item 4): the refactoring must not change
//! a single bit. Re-recorded since, on purpose (0.3.0, issue 13), for the two ridge labels:
//! `paretonbd_ridge` because the fit of all the patterns starts up the ridge where they rise
//! along it and stops at another point of the same ridge (log-likelihood equal to 4e-11), and
//! both `bgnbd_ridge` and `paretonbd_ridge` because a fit that did not converge has no
//! standard errors or covariance (their other values unchanged), and `paretonbd_ridge` again for
//! the series of ln(1+x) at tiny x in the quadrature ([`ln_1p_small`]: 5e-14 relative), and
//! every Pareto/NBD label for Euler's series of the ₂F₁ ([`PnbdSeries::Euler`]) and ln(α/β)
//! taken directly below 1/2 (0.3.0): parameters, log-likelihoods and predictions within
//! 3e-13 relative, standard errors 5e-10, the smallest covariances (numerical second
//! differences) 3e-7; and again for the quadrature's nodes as lanes with their own exponentials
//! ([`exp_parts`](super::power_integral::exp_parts), within 2 ulp of libm's: parameters,
//! log-likelihoods and predictions 6e-14, covariances 3e-7).
//! `CLV_GOLDEN_PRINT=1 cargo test -p customer_tiers_core golden -- --nocapture` prints the
//! current values in the form of [`GOLDEN`].

use super::*;

/// The outputs to compare, by label: every field of a fit (parameters, log-likelihood,
/// customers, converged, iterations, standard errors, covariance) and predictions.
fn golden_values() -> Vec<(String, Vec<f64>)> {
    let mut bg = Patterns::<3>::default();
    let mut gg = Patterns::<2>::default();
    for (x, t_x, t, m) in super::tests::cdnow_summaries() {
        bg.add([x, t_x, t], 1.0);
        if x > 0.0 && m > 0.0 {
            gg.add([x, m], 1.0);
        }
    }
    // the Pareto/NBD ridge data: a fit that runs off to s → ∞
    let ridge = super::robust_tests::repro();
    let (bg, gg) = (bg.sorted(), gg.sorted());
    let fit_values = |f: &Fit| -> Vec<f64> {
        let mut v = f.params.clone();
        v.push(f.log_likelihood);
        v.push(f.customers);
        v.push(f64::from(u8::from(f.converged)));
        v.push(f64::from(f.iterations));
        v.extend(f.std_errors.clone().unwrap_or_default());
        v.extend(f.covariance.clone().unwrap_or_default());
        v
    };
    type FitFn = fn(&[([f64; 3], f64)], f64, &mut dyn FnMut()) -> Result<Fit, CoreError>;
    type Predict = (
        fn(&[f64], f64, f64, f64) -> f64,
        fn(&[f64], f64, f64, f64, f64) -> f64,
        fn(&[f64], f64) -> f64,
    );
    let models: [(&str, FitFn, Predict); 3] = [
        (
            "bgnbd",
            bgnbd_fit,
            (bgnbd_p_alive, bgnbd_expected, bgnbd_expected_new),
        ),
        (
            "mbgnbd",
            mbgnbd_fit,
            (mbgnbd_p_alive, mbgnbd_expected, mbgnbd_expected_new),
        ),
        (
            "paretonbd",
            paretonbd_fit,
            (
                paretonbd_p_alive,
                paretonbd_expected,
                paretonbd_expected_new,
            ),
        ),
    ];
    let customers = [
        (0.0, 0.0, 38.86),
        (2.0, 30.43, 38.86),
        (7.0, 35.0, 37.0),
        (20.0, 30.0, 70.0),
    ];
    let mut out = Vec::new();
    for (name, fit, (p_alive, expected, expected_new)) in models {
        for (data_name, data, pen) in [("cdnow", &bg, 0.0), ("cdnow_pen", &bg, 0.01)] {
            let f = fit(data, pen, &mut || {}).unwrap();
            out.push((format!("{name}_{data_name}"), fit_values(&f)));
            let mut pred = vec![expected_new(&f.params, 39.0)];
            for (x, t_x, t) in customers {
                pred.push(p_alive(&f.params, x, t_x, t));
                pred.push(expected(&f.params, 39.0, x, t_x, t));
            }
            out.push((format!("{name}_{data_name}_predictions"), pred));
        }
        if name != "mbgnbd" {
            let f = fit(&ridge, 0.0, &mut || {}).unwrap();
            out.push((format!("{name}_ridge"), fit_values(&f)));
        }
    }
    for pen in [0.0, 0.01] {
        let f = gamma_gamma_fit(&gg, pen, &mut || {}).unwrap();
        let mut v = fit_values(&f);
        for (x, m) in [(0.0, 0.0), (2.0, 22.35), (10.0, 5.0)] {
            v.push(gamma_gamma_expected(&f.params, x, m).unwrap_or(f64::NAN));
        }
        out.push((format!("gamma_gamma_{pen}"), v));
    }
    let ll = bgnbd_ll(&[0.3, 5.0, 0.7, 2.5], &bg);
    let pll = paretonbd_ll(&[0.6, 10.0, 0.6, 12.0], &bg);
    let mll = mbgnbd_ll(&[0.5, 6.0, 0.9, 1.6], &bg);
    let gll = gamma_gamma_ll(&[6.0, 3.7, 15.0], &gg);
    let mut lls = vec![ll.0];
    lls.extend(ll.1);
    lls.push(pll.0);
    lls.extend(pll.1);
    lls.push(mll.0);
    lls.extend(mll.1);
    lls.push(gll.0);
    lls.extend(gll.1);
    out.push(("log_likelihoods".into(), lls));
    out
}

#[test]
fn golden_fits_are_bit_identical() {
    let got = golden_values();
    if std::env::var_os("CLV_GOLDEN_PRINT").is_some() {
        println!("const GOLDEN: &[(&str, &[u64])] = &[");
        for (label, v) in &got {
            let bits: Vec<String> = v.iter().map(|x| format!("{:#018x}", x.to_bits())).collect();
            println!("    (\"{label}\", &[{}]),", bits.join(", "));
        }
        println!("];");
        return;
    }
    assert_eq!(got.len(), GOLDEN.len());
    for ((label, v), (want_label, want)) in got.iter().zip(GOLDEN) {
        assert_eq!(label, want_label);
        let bits: Vec<u64> = v.iter().map(|x| x.to_bits()).collect();
        assert_eq!(&bits[..], *want, "{label}: {v:?}");
    }
}

const GOLDEN: &[(&str, &[u64])] = &[
    (
        "bgnbd_cdnow",
        &[
            0x3fcf0d565125b725,
            0x4011a787661688b5,
            0x3fe95f9d96178196,
            0x40036841504c53f4,
            0xc0c2b736f03e89dd,
            0x40a26a0000000000,
            0x3ff0000000000000,
            0x403a000000000000,
            0x3f89b7aec00b68df,
            0x3fd834d2ed35262f,
            0x3fc7c61f4c49ead7,
            0x3fe692bfa770e975,
            0x3f24ab1f6680a358,
            0x3f6e5ced70336f4d,
            0xbf1707527bc8167e,
            0x3f1134cb5a28a9ae,
            0x3f6e5ced70336f4d,
            0x3fc24f9396c0f63a,
            0xbf6779c808dc433c,
            0x3f858d366048ff14,
            0xbf1707527bc8167e,
            0xbf6779c808dc433c,
            0x3fa1a997a118f0d4,
            0x3fbf8b2ffc4d68b8,
            0x3f1134cb5a28a9ae,
            0x3f858d366048ff14,
            0x3fbf8b2ffc4d68b8,
            0x3fdfd8d0ff1e0325,
        ],
    ),
    (
        "bgnbd_cdnow_predictions",
        &[
            0x3ff31ec2bbf0dc18,
            0x3ff0000000000000,
            0x3fc8ee9e17bca56b,
            0x3fe74061d90a38e5,
            0x3ff39d50798e750e,
            0x3fec33a629b3c52f,
            0x4012ff56feae899d,
            0x3ed2d2821bc520a8,
            0x3f053e28bf696253,
        ],
    ),
    (
        "bgnbd_cdnow_pen",
        &[
            0x3fc42940822e3ed0,
            0x3ff878a89d362540,
            0x3fd57403c94f7854,
            0x3fe5b52e1ca089ea,
            0xc0c2de7137a1e2d9,
            0x40a26a0000000000,
            0x3ff0000000000000,
            0x4036000000000000,
            0x3f7adea74e07f68c,
            0x3fbd24152b6b7d4e,
            0x3fa617f7016aa0f7,
            0x3fb84205339423d5,
            0x3f068fdd13925651,
            0x3f3ebb14b952d328,
            0xbecdbd8716ecabc0,
            0xbed7a5690c5fc188,
            0x3f3ebb14b952d328,
            0x3f8a898f0e62862f,
            0xbf30069b6026c6e4,
            0xbf20d83eee21d896,
            0xbecdbd8716ecabc0,
            0xbf30069b6026c6e4,
            0x3f5e820b28ee88f1,
            0x3f6b92aff0b809f6,
            0xbed7a5690c5fc188,
            0xbf20d83eee21d896,
            0x3f6b92aff0b809f6,
            0x3f82639002d3d144,
        ],
    ),
    (
        "bgnbd_cdnow_pen_predictions",
        &[
            0x3ffbe3cd52cddd04,
            0x3ff0000000000000,
            0x3fc0ee7a5b9b9bfc,
            0x3fe80af4605275c3,
            0x3ff604a1b8586a5d,
            0x3fedcf0e25f4e946,
            0x4017b23b8e0820c3,
            0x3ed097dbf430b417,
            0x3f0517037a19828e,
        ],
    ),
    (
        "bgnbd_ridge",
        &[
            0x3fe22e7a806cad24,
            0x401276f053c2ec50,
            0x4204007be7fda789,
            0x4245004b95680eb5,
            0xc0ec2bdee76339d0,
            0x408f400000000000,
            0x0000000000000000,
            0x4045000000000000,
        ],
    ),
    (
        "mbgnbd_cdnow",
        &[
            0x3fe0cb803919b17a,
            0x4018bb77121d3975,
            0x3fec860d7f3630e1,
            0x3ff9d30387b1acc6,
            0xc0c2b7115f20956e,
            0x40a26a0000000000,
            0x3ff0000000000000,
            0x403a000000000000,
            0x3fb5510e54ea2eff,
            0x3fe64282d6654d09,
            0x3fc3d03c298ba9a6,
            0x3fe1333e08fb95fa,
            0x3f7c6660400f54d7,
            0x3fa8d212471f117a,
            0xbf7ec091d825ab41,
            0xbfa33c9627770386,
            0x3fa8d212471f117a,
            0x3fdef7fc492d3eba,
            0xbfab3e3220fff571,
            0xbfce38ecb4adb5c5,
            0xbf7ec091d825ab41,
            0xbfab3e3220fff571,
            0x3f988924ffc61a29,
            0x3fb2e4fb23d8c95c,
            0xbfa33c9627770386,
            0xbfce38ecb4adb5c5,
            0x3fb2e4fb23d8c95c,
            0x3fd27d87ef806833,
        ],
    ),
    (
        "mbgnbd_cdnow_predictions",
        &[
            0x3ff2ea9ddd49e437,
            0x3fd8f11e044b13c8,
            0x3fc3b4c7a11becbf,
            0x3fe6989494063eaa,
            0x3ff433e36db84990,
            0x3febe0d1e3a0f415,
            0x4012545f732dfd1f,
            0x3ed779140edebbc5,
            0x3f09d21186c256c2,
        ],
    ),
    (
        "mbgnbd_cdnow_pen",
        &[
            0x3fd17972987f8a35,
            0x3ffb173901f88746,
            0x3fe0705134867839,
            0x3fec45cd84ff7a1d,
            0xc0c2f04ccadb713b,
            0x40a26a0000000000,
            0x3ff0000000000000,
            0x4034000000000000,
            0x3f90ff7fe9cdf90a,
            0x3fbf29722d5c5f69,
            0x3fa8a0ee23b39af9,
            0x3fb8d8174dcc8d0d,
            0x3f320eefd4d71475,
            0x3f520b95cb092564,
            0x3f224151caea2868,
            0xbf41ca2b28e02a2c,
            0x3f520b95cb092564,
            0x3f8e5882e60e9903,
            0xbf1702dd51254230,
            0xbf53c94f1b4c60c4,
            0x3f224151caea2868,
            0xbf1702dd51254230,
            0x3f62f48e89de9fbb,
            0x3f6991954654f224,
            0xbf41ca2b28e02a2c,
            0xbf53c94f1b4c60c4,
            0x3f6991954654f224,
            0x3f8349d62f5e1597,
        ],
    ),
    (
        "mbgnbd_cdnow_pen_predictions",
        &[
            0x3ffd4015781647bc,
            0x3fdad8bb30fc4020,
            0x3fb957aee5b26e30,
            0x3fe8910d97ec4431,
            0x3ff733c46eb86239,
            0x3fed336931a6491c,
            0x401673c5b79eb07b,
            0x3ec62b24192eb561,
            0x3efb4f39f68983c8,
        ],
    ),
    (
        "paretonbd_cdnow",
        &[
            0x3fe1b472db45e5ce,
            0x402527c76cac01d3,
            0x3fe3664d89ea0e41,
            0x4027565e0b841108,
            0xc0c2bd7cf36e7685,
            0x40a26a0000000000,
            0x3ff0000000000000,
            0x4020000000000000,
            0x3fa862b3dfab9aca,
            0x3feaf7984ab9dcbc,
            0x3fc7f8cce60d78b7,
            0x4018d82687feb1d4,
            0x3f62953e412e77af,
            0x3fa0e3302b7e0d19,
            0xbf69d5e3fd1b33a0,
            0xbfc20201f4fafa48,
            0x3fa0e3302b7e0d19,
            0x3fe6b9d333446286,
            0xbf9b92864d33d738,
            0xbff34ba3486aeb20,
            0xbf69d5e3fd1b33a0,
            0xbf9b92864d33d738,
            0x3fa1f534f7c129f8,
            0x3ff215121cd1ed1b,
            0xbfc20201f4fafa48,
            0xbff34ba3486aeb20,
            0x3ff215121cd1ed1b,
            0x404349edd4585e5e,
        ],
    ),
    (
        "paretonbd_cdnow_predictions",
        &[
            0x3ff36a1a3d68d83d,
            0x3fd2e2da51d2b30f,
            0x3fbb68387c87125e,
            0x3febcfcc263d20fe,
            0x3ff7481696635c00,
            0x3fef0de1be8da61c,
            0x4013dd43021875e0,
            0x3ef2c69088c0a297,
            0x3f24a183a1bd7e90,
        ],
    ),
    (
        "paretonbd_cdnow_pen",
        &[
            0x3fcbf0bbe48176c7,
            0x3ffff18802331671,
            0x3fc11b6e7573e2c5,
            0x3fe332933c1f8d4d,
            0xc0c32bb16b410994,
            0x40a26a0000000000,
            0x3ff0000000000000,
            0x4010000000000000,
            0x3f86d48ea07ca20f,
            0x3fc0acebabbbe3d6,
            0x3f8cd8e4cd74951e,
            0x3fc1fcf89b40a284,
            0x3f2049c800f585af,
            0x3f4c9e8b699f1c26,
            0x3f0a79720746dfb5,
            0xbf276a4901015cc0,
            0x3f4c9e8b699f1c26,
            0x3f9161242ff35b32,
            0x3f286d8b6fe687d8,
            0x3ee27965e5f2c607,
            0x3f0a79720746dfb5,
            0x3f286d8b6fe687d8,
            0x3f2a014e7ec59fb6,
            0x3f547e1c6d2ec44c,
            0xbf276a4901015cc0,
            0x3ee27965e5f2c607,
            0x3f547e1c6d2ec44c,
            0x3f94392ff01aa00f,
        ],
    ),
    (
        "paretonbd_cdnow_pen_predictions",
        &[
            0x40063b85fc655c4e,
            0x3fddb646be508985,
            0x3fb789823268af0c,
            0x3feeb06639498721,
            0x3ffee1e1377141f0,
            0x3fefb78e2a77b6fb,
            0x401b2629f7bbc654,
            0x3ee4b7b6bf49e809,
            0x3f1b7c71a5028bc9,
        ],
    ),
    (
        "paretonbd_ridge",
        &[
            0x3fe433de791a8ed0,
            0x401662bfcd5159e1,
            0x41783924ab035247,
            0x42009b6f532bf881,
            0xc0ec4c742deee607,
            0x408f400000000000,
            0x0000000000000000,
            0x4010000000000000,
        ],
    ),
    (
        "gamma_gamma_0",
        &[
            0x4018ff90de5db9d0,
            0x400df42b8fdbf634,
            0x402ee31353b46656,
            0xc0afafd5dc17d394,
            0x408d900000000000,
            0x3ff0000000000000,
            0x4034000000000000,
            0x3ff30a7b445b050f,
            0x3fd2918b176849cd,
            0x4010a3412bac90cd,
            0x3ff6a8eba02349e6,
            0xbfcdb0f731e21818,
            0xc013363d82375d4c,
            0xbfcdb0f731e21818,
            0x3fb58ca4e26c0f1e,
            0x3fefbe3ed6200f4f,
            0xc013363d82375d4c,
            0x3fefbe3ed6200f4f,
            0x40314d04183c70f1,
            0x404195cec58ad4b5,
            0x4038a873cd71cf93,
            0x40191387ab5034ef,
        ],
    ),
    (
        "gamma_gamma_0.01",
        &[
            0x40106fd82da47a9c,
            0x3feefd12fa14dd68,
            0x400e3f0370645853,
            0xc0b121722ef00b76,
            0x408d900000000000,
            0x3ff0000000000000,
            0x402a000000000000,
            0x3fca83bf06446b9b,
            0x3fa85227ca75370e,
            0x3fca75b42295fafe,
            0x3fa5f834d2a6d1df,
            0x3f755158d649c348,
            0xbf798d8d78e2f366,
            0x3f755158d649c348,
            0x3f627c0e9bcee5ce,
            0x3f76cde459f6f03e,
            0xbf798d8d78e2f366,
            0x3f76cde459f6f03e,
            0x3fa5e0f5a966a5d4,
            0x7ff8000000000000,
            0x4038557f0971021f,
            0x40158763d08edd3f,
        ],
    ),
    (
        "log_likelihoods",
        &[
            0xc0c2be88f276f7d6,
            0xc0810ed5f47b3c98,
            0x402b57f33fb1672e,
            0x4040a5df4596cdd1,
            0xc01dbeeb1cf6f520,
            0xc0c2c1bb9f1a8535,
            0xc06a4c7f0e559e40,
            0x4023d6a46da29095,
            0x4053a23e14c15a81,
            0xc00609710c7cdc4c,
            0xc0c2b762adc34302,
            0x404ae5531a5cabf8,
            0xbfffc3c627687aec,
            0xc0346505bd7bfd5d,
            0x4024e5c91363edaa,
            0xc0afb87da48d889a,
            0x4039684a52c6ef37,
            0xc043d31251896331,
            0x40229bb74d3bccde,
        ],
    ),
];
