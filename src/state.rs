//! Population-aggregate states as `bytea` (issue 12).
//!
//! `rfm_model`, `abc_model`, `pareto`, `pareto_curve` and the CLV fits declare `STYPE = bytea`,
//! not `internal`: Citus pushes partial aggregation to the workers only for a state type it can
//! send (`worker_partial_agg` returns the state through the type's output function and the
//! coordinator reads it back with its input function, then calls the combine function).
//!
//! A state is still a Rust value updated in place, not bytes re-encoded per row: the aggregate
//! holds a PostgreSQL *expanded object* (`src/include/utils/expandeddatum.h`), a read-write
//! pointer datum whose header lives in its own memory context, a child of the aggregate context.
//! PostgreSQL's aggregate and window nodes and Citus's `worker_partial_agg` keep such a pointer
//! without copying (the transition function returns the same pointer every row). Whenever the
//! value has to become bytes — a parallel worker sends its partial state, Citus prints it, a
//! tuple stores it — PostgreSQL flattens it through [`flat_size`] and [`flatten_into`] into the
//! versioned encoding of `core/src/state.rs`; the combine and final functions accept both forms,
//! and decode whatever arrives flat, rejecting damaged bytes with 22P03.

use crate::raw::*;
use customer_tiers_core::abc::AbcPopulation;
use customer_tiers_core::clv::Patterns;
use customer_tiers_core::rfm::RfmPopulation;
use customer_tiers_core::CoreError;
use pgrx::pg_sys;
use pgrx::prelude::*;

/// A population state: encodable, decodable, mergeable.
pub trait AggState: Clone + Sized {
    /// Tells one state type's objects from another's (checked on every expanded datum).
    const MAGIC: u64;
    fn encode(&self) -> Vec<u8>;
    fn decode(bytes: &[u8]) -> Result<Self, CoreError>;
}

impl AggState for RfmPopulation {
    const MAGIC: u64 = 0x6374_7266_6d00_0001;
    fn encode(&self) -> Vec<u8> {
        RfmPopulation::encode(self)
    }
    fn decode(bytes: &[u8]) -> Result<Self, CoreError> {
        RfmPopulation::decode(bytes)
    }
}

impl AggState for AbcPopulation {
    const MAGIC: u64 = 0x6374_6162_6300_0001;
    fn encode(&self) -> Vec<u8> {
        AbcPopulation::encode(self)
    }
    fn decode(bytes: &[u8]) -> Result<Self, CoreError> {
        AbcPopulation::decode(bytes)
    }
}

impl<const N: usize> AggState for Patterns<N> {
    const MAGIC: u64 = 0x6374_7061_7400_0000 + N as u64;
    fn encode(&self) -> Vec<u8> {
        Patterns::<N>::encode(self)
    }
    fn decode(bytes: &[u8]) -> Result<Self, CoreError> {
        Patterns::<N>::decode(bytes)
    }
}

/// The expanded object: PostgreSQL's header first (the datum points into it), then ours.
#[repr(C)]
struct Expanded<T> {
    hdr: pg_sys::ExpandedObjectHeader,
    methods: pg_sys::ExpandedObjectMethods,
    magic: u64,
    /// The encoding computed by `flat_size`, consumed by `flatten_into`.
    flat: Option<Vec<u8>>,
    state: T,
}

/// `EOM_get_flat_size_method`: encodes once and remembers the bytes for `flatten_into`.
///
/// # Safety
///
/// `eoh` is the header of an object made by [`new_expanded`] for `T` (PostgreSQL calls it
/// through the methods of such objects only).
unsafe extern "C-unwind" fn flat_size<T: AggState>(
    eoh: *mut pg_sys::ExpandedObjectHeader,
) -> usize {
    // SAFETY: PostgreSQL calls this only with headers made by `new_expanded::<T>` (the methods
    // pointer is per type), so `eoh` is the first field of a live `Expanded<T>`.
    let e = unsafe { &mut *(eoh as *mut Expanded<T>) };
    let bytes = e.state.encode();
    let size = bytes.len() + pg_sys::VARHDRSZ;
    e.flat = Some(bytes);
    size
}

/// `EOM_flatten_into_method`: writes the bytea (header and encoding) into `result`.
///
/// # Safety
///
/// As [`flat_size`]; `result` has `allocated` writable bytes, the size `flat_size` returned.
unsafe extern "C-unwind" fn flatten_into<T: AggState>(
    eoh: *mut pg_sys::ExpandedObjectHeader,
    result: *mut std::ffi::c_void,
    allocated: usize,
) {
    // SAFETY: as in `flat_size`; PostgreSQL passes `allocated` bytes at `result`, the size
    // `flat_size` returned just before.
    unsafe {
        let e = &mut *(eoh as *mut Expanded<T>);
        // no panic here: this is called from PostgreSQL's C code. The encoding is deterministic,
        // so it has the size flat_size reported; never write past `allocated` regardless.
        let bytes = e.flat.take().unwrap_or_else(|| e.state.encode());
        let len = bytes.len().min(allocated - pg_sys::VARHDRSZ);
        debug_assert_eq!(len, bytes.len(), "flat size changed");
        pgrx::set_varsize_4b(
            result as *mut pg_sys::varlena,
            (len + pg_sys::VARHDRSZ) as i32,
        );
        std::ptr::copy_nonoverlapping(
            bytes.as_ptr(),
            (result as *mut u8).add(pg_sys::VARHDRSZ),
            len,
        );
    }
}

/// Drops the Rust value when its memory context goes away.
///
/// # Safety
///
/// `arg` is an object made by [`new_expanded`] for `T`, not dropped yet (the reset callback
/// registered with it, run once).
unsafe extern "C-unwind" fn drop_expanded<T>(arg: *mut std::ffi::c_void) {
    // SAFETY: registered once per object with the object as argument; the context (and the
    // object's memory) is freed right after this callback, and nothing reads it in between.
    unsafe { std::ptr::drop_in_place(arg as *mut Expanded<T>) }
}

/// Moves `value` into a new expanded object whose context is a child of `parent`; returns the
/// state and the read-write datum.
///
/// # Safety
///
/// `parent` is a valid memory context; the state lives until it (or the object) is deleted.
unsafe fn new_expanded<T: AggState>(
    parent: pg_sys::MemoryContext,
    value: T,
) -> (*mut T, pg_sys::Datum) {
    // SAFETY: a new context under `parent`; the object and its reset callback are allocated in
    // it, initialised before use, and the callback drops the Rust value before the memory goes.
    unsafe {
        let cx = pg_sys::AllocSetContextCreateInternal(
            parent,
            c"customer_tiers state".as_ptr(),
            0,
            1024,
            8 * 1024,
        );
        let e =
            pg_sys::MemoryContextAlloc(cx, std::mem::size_of::<Expanded<T>>()) as *mut Expanded<T>;
        std::ptr::write(
            e,
            Expanded {
                hdr: Default::default(),
                methods: pg_sys::ExpandedObjectMethods {
                    get_flat_size: Some(flat_size::<T>),
                    flatten_into: Some(flatten_into::<T>),
                },
                magic: T::MAGIC,
                flat: None,
                state: value,
            },
        );
        let cb =
            pg_sys::MemoryContextAlloc(cx, std::mem::size_of::<pg_sys::MemoryContextCallback>())
                as *mut pg_sys::MemoryContextCallback;
        std::ptr::write(
            cb,
            pg_sys::MemoryContextCallback {
                func: Some(drop_expanded::<T>),
                arg: e as *mut std::ffi::c_void,
                next: std::ptr::null_mut(),
            },
        );
        pg_sys::MemoryContextRegisterResetCallback(cx, cb);
        pg_sys::EOH_init_header(&mut (*e).hdr, &(*e).methods, cx);
        let datum = pg_sys::Datum::from((*e).hdr.eoh_rw_ptr.as_mut_ptr());
        (&mut (*e).state, datum)
    }
}

/// Whether a varlena datum is an expanded-object pointer; `rw_only` asks for read-write.
///
/// # Safety
///
/// `d` is a non-NULL datum of a varlena type (`bytea` or `internal` state).
unsafe fn is_expanded(d: pg_sys::Datum, rw_only: bool) -> bool {
    // SAFETY: a non-NULL bytea datum points at a varlena; its first byte is the header, and a
    // 1-byte external header is followed by the vartag byte (VARATT_IS_EXTERNAL_EXPANDED*).
    unsafe {
        let p = d.cast_mut_ptr::<u8>();
        if *p != 0x01 {
            return false;
        }
        let tag = *p.add(1) as u32;
        tag == pg_sys::vartag_external::VARTAG_EXPANDED_RW
            || (!rw_only && tag == pg_sys::vartag_external::VARTAG_EXPANDED_RO)
    }
}

/// The state inside an expanded datum made by this module for `T`.
///
/// # Safety
///
/// `d` is an expanded-object datum ([`is_expanded`]) made by this module (for some state type:
/// the magic is checked).
unsafe fn expanded_state<T: AggState>(d: pg_sys::Datum) -> *mut T {
    // SAFETY: the caller checked `is_expanded`, so `d` is a varatt_expanded (header bytes, then
    // the pointer to the ExpandedObjectHeader), which is the first field of our object when the
    // magic matches.
    unsafe {
        // DatumGetEOHP without the call (this runs once per row): an expanded datum is a
        // 2-byte external header followed by the (unaligned) pointer to the object's header
        let e = std::ptr::read_unaligned(d.cast_mut_ptr::<u8>().add(2) as *const *mut Expanded<T>);
        if (*e).magic != T::MAGIC {
            bad_state("not a state of this aggregate");
        }
        &mut (*e).state
    }
}

/// Decodes a flat state. States are ordinary bytea values that anyone can pass to the support
/// functions, so damaged bytes are bad input (22P03), not an internal error.
fn decode<T: AggState>(bytes: &[u8]) -> T {
    T::decode(bytes).unwrap_or_else(|e| bad_state(&e.to_string()))
}

fn bad_state(why: &str) -> ! {
    ereport!(
        ERROR,
        PgSqlErrorCode::ERRCODE_INVALID_BINARY_REPRESENTATION,
        format!("invalid aggregate state: {why}")
    );
}

/// The transition step's state: argument 0 when it is this aggregate's read-write object,
/// else a new object (from `init`, or decoded from a flat bytea) in the aggregate context.
/// Returns the state and the datum to return.
///
/// # Safety
///
/// `fcinfo` is the current call's, of a transition function of an aggregate over `T` whose
/// argument 0 is its (`bytea` or `internal`) state. The state pointer is valid during the call
/// and is the only access to the state then.
pub unsafe fn state_or_init<T: AggState>(
    fcinfo: pg_sys::FunctionCallInfo,
    func: &str,
    init: impl FnOnce() -> T,
) -> (*mut T, pg_sys::Datum) {
    // SAFETY: argument 0 is a bytea (the SQL signature), NULL handled by `arg`.
    unsafe {
        match arg(fcinfo, STATE) {
            Some(d) if is_expanded(d, true) => (expanded_state::<T>(d), d),
            Some(d) => {
                let value = decode::<T>(varlena_bytes(&d));
                new_expanded(agg_context(fcinfo, func), value)
            }
            None => new_expanded(agg_context(fcinfo, func), init()),
        }
    }
}

/// A state argument for reading (combine's second argument, the final function): expanded
/// in place, or decoded from a flat bytea into a new object in the current memory context.
///
/// # Safety
///
/// `fcinfo` is the current call's and argument `a` a state of an aggregate over `T` (`bytea`,
/// or `internal` made by this module). The caller picks `'a`: the reference must not be used
/// after the call (the object lives in the aggregate context or the current memory context),
/// nor while the state is changed through another pointer.
pub unsafe fn state_arg<'a, T: AggState>(
    fcinfo: pg_sys::FunctionCallInfo,
    a: Arg,
) -> Option<&'a T> {
    // SAFETY: argument a is a bytea; the decoded object lives until the current context is
    // reset, which outlives this function call.
    unsafe {
        let d = arg(fcinfo, a)?;
        if is_expanded(d, false) {
            Some(&*expanded_state::<T>(d))
        } else {
            let value = decode::<T>(varlena_bytes(&d));
            Some(&*new_expanded(pg_sys::CurrentMemoryContext, value).0)
        }
    }
}

/// The combine step: merges argument 1 into argument 0 (in place when it is our read-write
/// object, else into a new object in the aggregate context).
///
/// # Safety
///
/// `fcinfo` is the current call's, of the combine function of an aggregate over `T` (both
/// arguments its states).
pub unsafe fn combine_states<T: AggState>(
    fcinfo: pg_sys::FunctionCallInfo,
    agg: &str,
    merge: impl FnOnce(&mut T, &T) -> Result<(), CoreError>,
) -> pg_sys::Datum {
    // SAFETY: both arguments are bytea states of this aggregate (the SQL signature).
    unsafe {
        let Some(b) = state_arg::<T>(fcinfo, OTHER_STATE) else {
            return match arg(fcinfo, STATE) {
                Some(a) => a,
                None => return_null(fcinfo),
            };
        };
        if arg(fcinfo, STATE).is_none() {
            return new_expanded(agg_context(fcinfo, agg), b.clone()).1;
        }
        // argument 0 is not NULL: the closure never runs
        let (a, datum) = state_or_init::<T>(fcinfo, agg, || unreachable!("argument 0 is not NULL"));
        check(merge(&mut *a, b));
        datum
    }
}

/// The serialize function of the `internal`-state aggregates of a 0.2.0 (or older) catalog,
/// which this library serves until `ALTER EXTENSION customer_tiers UPDATE`: their states are the
/// same expanded objects, passed as `internal`.
///
/// # Safety
///
/// `fcinfo` is the current call's and argument 0 a state of an aggregate over `T`.
pub unsafe fn serialize_state<T: AggState>(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: argument 0 is a state made by this module (the catalog's aggregate definition).
    unsafe {
        match state_arg::<T>(fcinfo, STATE) {
            Some(s) => bytea_datum(&s.encode()),
            None => return_null(fcinfo),
        }
    }
}

/// The deserialize function of those aggregates (see [`serialize_state`]).
///
/// # Safety
///
/// `fcinfo` is the current call's, of the deserialize function of an aggregate over `T`
/// (argument 0 a `bytea`).
pub unsafe fn deserialize_state<T: AggState>(
    fcinfo: pg_sys::FunctionCallInfo,
    agg: &str,
) -> pg_sys::Datum {
    // SAFETY: argument 0 is a bytea (the catalog's signature); the object goes to the aggregate
    // context like any transition state.
    unsafe {
        let Some(d) = arg(fcinfo, STATE) else {
            return return_null(fcinfo);
        };
        let value = decode::<T>(varlena_bytes(&d));
        new_expanded(agg_context(fcinfo, agg), value).1
    }
}
