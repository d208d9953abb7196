//! The C symbols of earlier releases' catalogs. Function symbols are named after their SQL
//! function (`ct_[model_]function[_variant]`, issue 17); 0.1.0 and 0.2.0 named some otherwise.
//! Between installing this library and `ALTER EXTENSION customer_tiers UPDATE`, a database's
//! catalog still names the old symbols (and `CREATE EXTENSION customer_tiers VERSION '0.2.0'`
//! needs them), so each stays as an alias of the current function. Remove them when the update
//! scripts from those releases are no longer shipped.

use crate::sql_function;

/// `old => module::new`: the old symbol calls the current function with the same arguments.
macro_rules! legacy_symbols {
    ($($old:ident => $module:ident :: $new:ident;)*) => {$(
        sql_function!($old, |fcinfo| { crate::$module::$new(fcinfo) });
    )*};
}

legacy_symbols! {
    ct_abc_model_trans => abc::ct_abc_trans;
    ct_abc_model_trans_conv => abc::ct_abc_trans_conv;
    ct_abc_model_trans_cuts => abc::ct_abc_trans_cuts;
    ct_abc_model_trans_method => abc::ct_abc_trans_method;
    ct_clv_estimate => clv::ct_bgnbd_clv_estimate;
    ct_expected_purchases => clv::ct_bgnbd_expected_purchases;
    ct_expected_purchases_new => clv::ct_bgnbd_expected_purchases_new;
    ct_expected_spend => clv::ct_gamma_gamma_expected_spend;
    ct_mbg_clv_estimate => clv::ct_mbgnbd_clv_estimate;
    ct_mbg_expected_purchases => clv::ct_mbgnbd_expected_purchases;
    ct_mbg_expected_purchases_new => clv::ct_mbgnbd_expected_purchases_new;
    ct_mbg_p_alive => clv::ct_mbgnbd_p_alive;
    ct_p_alive => clv::ct_bgnbd_p_alive;
    ct_pnbd_clv_estimate => clv::ct_paretonbd_clv_estimate;
    ct_pnbd_expected_purchases => clv::ct_paretonbd_expected_purchases;
    ct_pnbd_expected_purchases_new => clv::ct_paretonbd_expected_purchases_new;
    ct_pnbd_p_alive => clv::ct_paretonbd_p_alive;
    ct_summary_combine => summary::ct_customer_summary_combine;
    ct_summary_deserialize => summary::ct_customer_summary_deserialize;
    ct_summary_final => summary::ct_customer_summary_final;
    ct_summary_serialize => summary::ct_customer_summary_serialize;
    ct_summary_trans_date_f8 => summary::ct_customer_summary_trans_date_f8;
    ct_summary_trans_date_f8_unit => summary::ct_customer_summary_trans_date_f8_unit;
    ct_summary_trans_date_num => summary::ct_customer_summary_trans_date_num;
    ct_summary_trans_date_num_unit => summary::ct_customer_summary_trans_date_num_unit;
    ct_summary_trans_ts_f8 => summary::ct_customer_summary_trans_ts_f8;
    ct_summary_trans_ts_f8_unit => summary::ct_customer_summary_trans_ts_f8_unit;
    ct_summary_trans_ts_num => summary::ct_customer_summary_trans_ts_num;
    ct_summary_trans_ts_num_unit => summary::ct_customer_summary_trans_ts_num_unit;
    ct_summary_trans_tstz_f8 => summary::ct_customer_summary_trans_tstz_f8;
    ct_summary_trans_tstz_f8_unit => summary::ct_customer_summary_trans_tstz_f8_unit;
    ct_summary_trans_tstz_num => summary::ct_customer_summary_trans_tstz_num;
    ct_summary_trans_tstz_num_unit => summary::ct_customer_summary_trans_tstz_num_unit;
}
