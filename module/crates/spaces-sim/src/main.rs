//! `spaces-sim`: the module's own reducers, run natively against an in-memory stand-in for the
//! SpacetimeDB host.
//!
//! The module calls the host through the `spacetime_10.x` ABI (`spacetimedb-bindings-sys`); in
//! a `.wasm` those are imports, here they are the `#[no_mangle]` functions below, backed by a
//! small row store that follows the ABI's documented semantics: BSATN rows, point scans on
//! btree indexes, unique constraints, auto-increment sequences, and a transaction per reducer
//! call that is rolled back when the reducer returns an error.
//!
//! It is a test tool, not a database: no SQL, no subscriptions, no row-level security (the
//! test filters private tables itself), one thread. Lines on stdin, answers on stdout:
//!
//! ```text
//! call <reducer> <sender hex> <timestamp micros> <args BSATN hex>
//!   -> ok | err <message hex>, then `ins <table> <row hex>` / `del <table> <row hex>`
//!      (the transaction's net changes), then `end`
//! rows <table>  -> `row <row hex>` per row (by primary key), then `end`
//! ```
//!
//! The first call must be `init` (its sender becomes the database owner).

// The ABI functions below are `unsafe extern "C"` because the module's bindings call them with
// raw pointers into their own memory, as a wasm host would; their safety contract is the
// ABI's (`spacetimedb-bindings-sys`): valid, live pointers of the stated lengths.
#![allow(clippy::missing_safety_doc)]

// Link the module (its `__preinit__*` registrations come from this crate).
extern crate spaces_module_native;

use spacetimedb::sats::bsatn;
use spacetimedb::sats::{AlgebraicType, AlgebraicValue, ProductType, ProductValue};
use spacetimedb::spacetimedb_lib::db::raw_def::v10::RawModuleDefV10;
use spacetimedb::spacetimedb_lib::db::raw_def::v9::{
    Lifecycle, RawConstraintDataV9, RawIndexAlgorithm,
};
use spacetimedb::spacetimedb_lib::RawModuleDef;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::io::{self, BufRead, Write};
use std::ops::{Bound, RangeBounds};

// --------------------------------------------------------------------------------------------
// Errno values of the ABI (spacetimedb-primitives `errno`).

const HOST_CALL_FAILURE: u16 = 1;
const NO_SUCH_TABLE: u16 = 4;
const NO_SUCH_INDEX: u16 = 5;
const NO_SUCH_ITER: u16 = 6;
const BSATN_DECODE_ERROR: u16 = 3;
const NO_SUCH_BYTES: u16 = 8;
const BUFFER_TOO_SMALL: u16 = 11;
const UNIQUE_ALREADY_EXISTS: u16 = 12;
const NO_SUCH_ROW: u16 = 15;

// --------------------------------------------------------------------------------------------
// The store

struct TableSchema {
    name: String,
    row_type: ProductType,
    primary_key: Option<usize>,
    uniques: Vec<Vec<usize>>,
    sequences: Vec<usize>,
}

struct IndexSchema {
    table: usize,
    columns: Vec<usize>,
    unique: bool,
}

#[derive(Clone)]
struct Row {
    bytes: Vec<u8>,
    value: ProductValue,
}

#[derive(Default)]
struct Host {
    tables: Vec<TableSchema>,
    table_ids: HashMap<String, usize>,
    indexes: Vec<IndexSchema>,
    index_ids: HashMap<String, usize>,
    rows: Vec<Vec<Row>>,
    next_seq: Vec<BTreeMap<usize, u64>>,
    iters: HashMap<u32, Vec<Vec<u8>>>,
    sources: HashMap<u32, Vec<u8>>,
    sinks: HashMap<u32, Vec<u8>>,
    next_handle: u32,
}

thread_local! {
    static HOST: RefCell<Host> = RefCell::new(Host::default());
}

fn with_host<R>(f: impl FnOnce(&mut Host) -> R) -> R {
    HOST.with(|h| f(&mut h.borrow_mut()))
}

impl Host {
    fn handle(&mut self) -> u32 {
        self.next_handle += 1;
        self.next_handle
    }

    fn decode_row(&self, table: usize, bytes: &[u8]) -> Result<ProductValue, u16> {
        let ty = AlgebraicType::Product(self.tables[table].row_type.clone());
        let mut reader = bytes;
        match AlgebraicValue::decode(&ty, &mut reader) {
            Ok(AlgebraicValue::Product(pv)) if reader.is_empty() => Ok(pv),
            _ => Err(BSATN_DECODE_ERROR),
        }
    }

    /// The key type of a (single-column: the module has no other) index.
    fn key_type(&self, index: usize) -> AlgebraicType {
        let idx = &self.indexes[index];
        self.tables[idx.table].row_type.elements[idx.columns[0]]
            .algebraic_type
            .clone()
    }

    fn key_of(row: &ProductValue, columns: &[usize]) -> AlgebraicValue {
        if columns.len() == 1 {
            row.elements[columns[0]].clone()
        } else {
            AlgebraicValue::product(
                columns
                    .iter()
                    .map(|&c| row.elements[c].clone())
                    .collect::<Vec<_>>(),
            )
        }
    }

    fn decode_point(&self, index: usize, point: &[u8]) -> Result<AlgebraicValue, u16> {
        let mut reader = point;
        AlgebraicValue::decode(&self.key_type(index), &mut reader).map_err(|_| BSATN_DECODE_ERROR)
    }

    /// Positions (in the table's row vector) of the rows whose index key equals `key`.
    fn matching(&self, index: usize, key: &AlgebraicValue) -> Vec<usize> {
        let idx = &self.indexes[index];
        self.rows[idx.table]
            .iter()
            .enumerate()
            .filter(|(_, r)| &Self::key_of(&r.value, &idx.columns) == key)
            .map(|(i, _)| i)
            .collect()
    }

    fn violates_unique(&self, table: usize, row: &ProductValue, except: Option<usize>) -> bool {
        self.tables[table].uniques.iter().any(|cols| {
            let key = Self::key_of(row, cols);
            self.rows[table]
                .iter()
                .enumerate()
                .any(|(i, r)| Some(i) != except && Self::key_of(&r.value, cols) == key)
        })
    }

    /// Fills auto-increment columns given as 0; returns the generated columns' BSATN.
    fn fill_sequences(&mut self, table: usize, row: &mut ProductValue) -> Result<Vec<u8>, u16> {
        let mut generated: Vec<AlgebraicValue> = Vec::new();
        for &col in &self.tables[table].sequences.clone() {
            let is_zero = matches!(row.elements[col], AlgebraicValue::U64(0));
            let value = if is_zero {
                let next = self.next_seq[table].entry(col).or_insert(1);
                let value = *next;
                *next += 1;
                row.elements[col] = AlgebraicValue::U64(value);
                value
            } else {
                match row.elements[col] {
                    AlgebraicValue::U64(v) => v,
                    _ => return Err(BSATN_DECODE_ERROR),
                }
            };
            generated.push(AlgebraicValue::U64(value));
        }
        Ok(bsatn::to_vec(&ProductValue::from(generated)).expect("encode generated columns"))
    }

    fn insert(&mut self, table: usize, bytes: &[u8]) -> Result<Vec<u8>, u16> {
        let mut value = self.decode_row(table, bytes)?;
        let generated = self.fill_sequences(table, &mut value)?;
        if self.violates_unique(table, &value, None) {
            return Err(UNIQUE_ALREADY_EXISTS);
        }
        let bytes = bsatn::to_vec(&value).expect("encode row");
        self.rows[table].push(Row { bytes, value });
        Ok(generated)
    }

    fn update(&mut self, table: usize, index: usize, bytes: &[u8]) -> Result<Vec<u8>, u16> {
        if !self.indexes[index].unique || self.indexes[index].table != table {
            return Err(NO_SUCH_INDEX);
        }
        let mut value = self.decode_row(table, bytes)?;
        let key = Self::key_of(&value, &self.indexes[index].columns);
        let Some(&position) = self.matching(index, &key).first() else {
            return Err(NO_SUCH_ROW);
        };
        let generated = self.fill_sequences(table, &mut value)?;
        if self.violates_unique(table, &value, Some(position)) {
            return Err(UNIQUE_ALREADY_EXISTS);
        }
        let bytes = bsatn::to_vec(&value).expect("encode row");
        self.rows[table][position] = Row { bytes, value };
        Ok(generated)
    }

    fn delete_positions(&mut self, table: usize, mut positions: Vec<usize>) -> u32 {
        positions.sort_unstable();
        for &p in positions.iter().rev() {
            self.rows[table].remove(p);
        }
        positions.len() as u32
    }

    fn new_iter(&mut self, rows: Vec<Vec<u8>>) -> u32 {
        let handle = self.handle();
        self.iters.insert(handle, rows);
        handle
    }
}

// --------------------------------------------------------------------------------------------
// The ABI. Pointers come from the module, in this same process.

/// Hands the row with its generated columns back to the module, in the buffer it passed in
/// (the ABI's contract for insert and update: the row never grows).
unsafe fn write_back(generated: &[u8], row_ptr: *mut u8, row_len_ptr: *mut usize) {
    unsafe {
        std::ptr::copy_nonoverlapping(generated.as_ptr(), row_ptr, generated.len());
        *row_len_ptr = generated.len();
    }
}

unsafe fn slice<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    if len == 0 {
        &[]
    } else {
        unsafe { std::slice::from_raw_parts(ptr, len) }
    }
}

fn status(result: Result<(), u16>) -> u16 {
    match result {
        Ok(()) => 0,
        Err(code) => code,
    }
}

#[no_mangle]
pub unsafe extern "C" fn table_id_from_name(
    name: *const u8,
    name_len: usize,
    out: *mut u32,
) -> u16 {
    let name = String::from_utf8_lossy(unsafe { slice(name, name_len) }).into_owned();
    with_host(|h| match h.table_ids.get(&name) {
        Some(&id) => {
            unsafe { *out = id as u32 + 1 };
            0
        }
        None => NO_SUCH_TABLE,
    })
}

#[no_mangle]
pub unsafe extern "C" fn index_id_from_name(
    name: *const u8,
    name_len: usize,
    out: *mut u32,
) -> u16 {
    let name = String::from_utf8_lossy(unsafe { slice(name, name_len) }).into_owned();
    with_host(|h| match h.index_ids.get(&name) {
        Some(&id) => {
            unsafe { *out = id as u32 + 1 };
            0
        }
        None => {
            eprintln!("spaces-sim: no index named {name}");
            NO_SUCH_INDEX
        }
    })
}

fn table_index(h: &Host, table_id: u32) -> Result<usize, u16> {
    let t = table_id as usize;
    if t == 0 || t > h.tables.len() {
        Err(NO_SUCH_TABLE)
    } else {
        Ok(t - 1)
    }
}

fn index_index(h: &Host, index_id: u32) -> Result<usize, u16> {
    let i = index_id as usize;
    if i == 0 || i > h.indexes.len() {
        Err(NO_SUCH_INDEX)
    } else {
        Ok(i - 1)
    }
}

#[no_mangle]
pub unsafe extern "C" fn datastore_table_row_count(table_id: u32, out: *mut u64) -> u16 {
    with_host(|h| {
        status(table_index(h, table_id).map(|t| unsafe { *out = h.rows[t].len() as u64 }))
    })
}

#[no_mangle]
pub unsafe extern "C" fn datastore_table_scan_bsatn(table_id: u32, out: *mut u32) -> u16 {
    with_host(|h| {
        status(table_index(h, table_id).map(|t| {
            let rows = h.rows[t].iter().map(|r| r.bytes.clone()).collect();
            unsafe { *out = h.new_iter(rows) };
        }))
    })
}

#[no_mangle]
pub unsafe extern "C" fn datastore_index_scan_point_bsatn(
    index_id: u32,
    point_ptr: *const u8,
    point_len: usize,
    out: *mut u32,
) -> u16 {
    let point = unsafe { slice(point_ptr, point_len) };
    with_host(|h| {
        status((|| {
            let index = index_index(h, index_id)?;
            let key = h.decode_point(index, point)?;
            let table = h.indexes[index].table;
            let rows = h
                .matching(index, &key)
                .into_iter()
                .map(|p| h.rows[table][p].bytes.clone())
                .collect();
            unsafe { *out = h.new_iter(rows) };
            Ok(())
        })())
    })
}

/// A `Bound<AlgebraicValue>` as the bindings encode it: tag 0 included, 1 excluded, 2
/// unbounded, then the value of the index's key type.
fn decode_bound(h: &Host, index: usize, bytes: &[u8]) -> Result<Bound<AlgebraicValue>, u16> {
    let (&tag, rest) = bytes.split_first().ok_or(BSATN_DECODE_ERROR)?;
    match tag {
        0 => h.decode_point(index, rest).map(Bound::Included),
        1 => h.decode_point(index, rest).map(Bound::Excluded),
        2 if rest.is_empty() => Ok(Bound::Unbounded),
        _ => Err(BSATN_DECODE_ERROR),
    }
}

/// A range scan of a single-column btree index (no prefix: the module's indexes have one
/// column), in key order, as the host's btree yields them.
#[no_mangle]
pub unsafe extern "C" fn datastore_index_scan_range_bsatn(
    index_id: u32,
    _prefix_ptr: *const u8,
    _prefix_len: usize,
    prefix_elems: u16,
    rstart_ptr: *const u8,
    rstart_len: usize,
    rend_ptr: *const u8,
    rend_len: usize,
    out: *mut u32,
) -> u16 {
    let (rstart, rend) = unsafe { (slice(rstart_ptr, rstart_len), slice(rend_ptr, rend_len)) };
    with_host(|h| {
        status((|| {
            let index = index_index(h, index_id)?;
            if prefix_elems != 0 {
                return Err(BSATN_DECODE_ERROR);
            }
            let range = (
                decode_bound(h, index, rstart)?,
                decode_bound(h, index, rend)?,
            );
            let idx = &h.indexes[index];
            let mut found: Vec<(AlgebraicValue, Vec<u8>)> = h.rows[idx.table]
                .iter()
                .map(|r| (Host::key_of(&r.value, &idx.columns), r.bytes.clone()))
                .filter(|(key, _)| range.contains(key))
                .collect();
            found.sort_by(|a, b| a.0.cmp(&b.0));
            let rows = found.into_iter().map(|(_, bytes)| bytes).collect();
            unsafe { *out = h.new_iter(rows) };
            Ok(())
        })())
    })
}

#[no_mangle]
pub unsafe extern "C" fn datastore_delete_by_index_scan_point_bsatn(
    index_id: u32,
    point_ptr: *const u8,
    point_len: usize,
    out: *mut u32,
) -> u16 {
    let point = unsafe { slice(point_ptr, point_len) };
    with_host(|h| {
        status((|| {
            let index = index_index(h, index_id)?;
            let key = h.decode_point(index, point)?;
            let table = h.indexes[index].table;
            let positions = h.matching(index, &key);
            unsafe { *out = h.delete_positions(table, positions) };
            Ok(())
        })())
    })
}

#[no_mangle]
pub unsafe extern "C" fn datastore_delete_all_by_eq_bsatn(
    table_id: u32,
    rel_ptr: *const u8,
    rel_len: usize,
    out: *mut u32,
) -> u16 {
    let relation = unsafe { slice(rel_ptr, rel_len) };
    with_host(|h| {
        status((|| {
            let table = table_index(h, table_id)?;
            let ty = AlgebraicType::array(AlgebraicType::Product(h.tables[table].row_type.clone()));
            let mut reader = relation;
            let doomed = match AlgebraicValue::decode(&ty, &mut reader) {
                Ok(AlgebraicValue::Array(arr)) => arr,
                _ => return Err(BSATN_DECODE_ERROR),
            };
            let doomed: Vec<Vec<u8>> = doomed
                .iter_cloned()
                .map(|v| bsatn::to_vec(&v).expect("encode row"))
                .collect();
            let positions = h.rows[table]
                .iter()
                .enumerate()
                .filter(|(_, r)| doomed.contains(&r.bytes))
                .map(|(i, _)| i)
                .collect();
            unsafe { *out = h.delete_positions(table, positions) };
            Ok(())
        })())
    })
}

#[no_mangle]
pub unsafe extern "C" fn datastore_clear(table_id: u32, out: *mut u64) -> u16 {
    with_host(|h| {
        status(table_index(h, table_id).map(|t| {
            unsafe { *out = h.rows[t].len() as u64 };
            h.rows[t].clear();
        }))
    })
}

#[no_mangle]
pub unsafe extern "C" fn datastore_insert_bsatn(
    table_id: u32,
    row_ptr: *mut u8,
    row_len_ptr: *mut usize,
) -> u16 {
    let row = unsafe { slice(row_ptr, *row_len_ptr) }.to_vec();
    with_host(|h| {
        status((|| {
            let table = table_index(h, table_id)?;
            let generated = h.insert(table, &row)?;
            unsafe { write_back(&generated, row_ptr, row_len_ptr) };
            Ok(())
        })())
    })
}

#[no_mangle]
pub unsafe extern "C" fn datastore_update_bsatn(
    table_id: u32,
    index_id: u32,
    row_ptr: *mut u8,
    row_len_ptr: *mut usize,
) -> u16 {
    let row = unsafe { slice(row_ptr, *row_len_ptr) }.to_vec();
    with_host(|h| {
        status((|| {
            let table = table_index(h, table_id)?;
            let index = index_index(h, index_id)?;
            let generated = h.update(table, index, &row)?;
            unsafe { write_back(&generated, row_ptr, row_len_ptr) };
            Ok(())
        })())
    })
}

#[no_mangle]
pub unsafe extern "C" fn row_iter_bsatn_advance(
    iter: u32,
    buffer_ptr: *mut u8,
    buffer_len_ptr: *mut usize,
) -> i16 {
    with_host(|h| {
        let capacity = unsafe { *buffer_len_ptr };
        let Some(rows) = h.iters.get_mut(&iter) else {
            return NO_SUCH_ITER as i16;
        };
        let mut written = 0;
        let mut taken = 0;
        for row in rows.iter() {
            if written + row.len() > capacity {
                break;
            }
            unsafe {
                std::ptr::copy_nonoverlapping(row.as_ptr(), buffer_ptr.add(written), row.len())
            };
            written += row.len();
            taken += 1;
        }
        if taken == 0 && !rows.is_empty() {
            unsafe { *buffer_len_ptr = rows[0].len() };
            return BUFFER_TOO_SMALL as i16;
        }
        rows.drain(..taken);
        unsafe { *buffer_len_ptr = written };
        if rows.is_empty() {
            h.iters.remove(&iter);
            -1
        } else {
            0
        }
    })
}

#[no_mangle]
pub extern "C" fn row_iter_bsatn_close(iter: u32) -> u16 {
    with_host(|h| match h.iters.remove(&iter) {
        Some(_) => 0,
        None => NO_SUCH_ITER,
    })
}

#[no_mangle]
pub unsafe extern "C" fn bytes_sink_write(
    sink: u32,
    buffer_ptr: *const u8,
    buffer_len_ptr: *mut usize,
) -> u16 {
    let data = unsafe { slice(buffer_ptr, *buffer_len_ptr) };
    with_host(|h| match h.sinks.get_mut(&sink) {
        Some(buf) => {
            buf.extend_from_slice(data);
            0
        }
        None => NO_SUCH_BYTES,
    })
}

#[no_mangle]
pub unsafe extern "C" fn bytes_source_read(
    source: u32,
    buffer_ptr: *mut u8,
    buffer_len_ptr: *mut usize,
) -> i16 {
    with_host(|h| {
        let Some(data) = h.sources.get_mut(&source) else {
            return NO_SUCH_BYTES as i16;
        };
        let n = data.len().min(unsafe { *buffer_len_ptr });
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), buffer_ptr, n);
            *buffer_len_ptr = n;
        }
        data.drain(..n);
        if data.is_empty() {
            h.sources.remove(&source);
            -1
        } else {
            0
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn bytes_source_remaining_length(source: u32, out: *mut u32) -> i16 {
    with_host(|h| match h.sources.get(&source) {
        Some(data) => {
            unsafe { *out = data.len() as u32 };
            0
        }
        None => NO_SUCH_BYTES as i16,
    })
}

#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn console_log(
    level: u8,
    _target_ptr: *const u8,
    _target_len: usize,
    _filename_ptr: *const u8,
    _filename_len: usize,
    _line_number: u32,
    message_ptr: *const u8,
    message_len: usize,
) {
    let message = String::from_utf8_lossy(unsafe { slice(message_ptr, message_len) });
    if level <= 1 || level == 101 {
        eprintln!("spaces-sim: module log {level}: {message}");
    }
}

#[no_mangle]
pub unsafe extern "C" fn console_timer_start(_name_ptr: *const u8, _name_len: usize) -> u32 {
    0
}

#[no_mangle]
pub extern "C" fn console_timer_end(_timer_id: u32) -> u16 {
    0
}

/// No caller has a JWT here.
#[no_mangle]
pub unsafe extern "C" fn get_jwt(_connection_id_ptr: *const u8, bytes_source_id: *mut u32) -> u16 {
    unsafe { *bytes_source_id = 0 };
    0
}

#[no_mangle]
pub unsafe extern "C" fn identity(out_ptr: *mut u8) {
    unsafe { std::ptr::write_bytes(out_ptr, 0, 32) };
}

// --------------------------------------------------------------------------------------------
// The module's entry points (exported by the `spacetimedb` crate and the module's macros).

extern "C" {
    fn __describe_module__(description: u32);
    #[allow(clippy::too_many_arguments)]
    fn __call_reducer__(
        id: usize,
        sender_0: u64,
        sender_1: u64,
        sender_2: u64,
        sender_3: u64,
        conn_id_0: u64,
        conn_id_1: u64,
        timestamp: u64,
        args: u32,
        error: u32,
    ) -> i16;
}

/// The registrations the module's source defines, in the host's order (by symbol name). The
/// schema-sync test compares this list with the module's tables, reducers and filters; a
/// missing one also shows as a table or reducer the module def lacks (checked at start).
mod preinits {
    macro_rules! declare {
        ($($name:ident = $symbol:literal;)*) => {
            extern "C" {
                $(
                    #[link_name = $symbol]
                    pub fn $name();
                )*
            }
            pub const ALL: &[(&str, unsafe extern "C" fn())] = &[$(($symbol, $name)),*];
        };
    }
    declare! {
        panic_hook = "__preinit__00_panic_hook";
        setting = "__preinit__05_setting_CASE_CONVERSION_POLICY";
        init_log = "__preinit__15_init_log";
        t_user_profile = "__preinit__20_register_describer_user_profile";
        t_user_presence = "__preinit__20_register_describer_user_presence";
        t_server = "__preinit__20_register_describer_server";
        t_server_member = "__preinit__20_register_describer_server_member";
        t_channel = "__preinit__20_register_describer_channel";
        t_thread = "__preinit__20_register_describer_thread";
        t_message = "__preinit__20_register_describer_message";
        t_reaction = "__preinit__20_register_describer_reaction";
        t_channel_read_state = "__preinit__20_register_describer_channel_read_state";
        t_direct_conversation = "__preinit__20_register_describer_direct_conversation";
        t_direct_message = "__preinit__20_register_describer_direct_message";
        t_typing_indicator = "__preinit__20_register_describer_typing_indicator";
        t_system_notification = "__preinit__20_register_describer_system_notification";
        t_task = "__preinit__20_register_describer_task";
        t_path_lease = "__preinit__20_register_describer_path_lease";
        t_vote = "__preinit__20_register_describer_vote";
        t_expiry_schedule = "__preinit__20_register_describer_expiry_schedule";
        t_write_key = "__preinit__20_register_describer_write_key";
        t_server_invite = "__preinit__20_register_describer_server_invite";
        t_session_info = "__preinit__20_register_describer_session_info";
        t_inbox_item = "__preinit__20_register_describer_inbox_item";
        t_channel_follow = "__preinit__20_register_describer_channel_follow";
        t_thread_poster = "__preinit__20_register_describer_thread_poster";
        r_init = "__preinit__20_register_describer_init";
        r_client_connected = "__preinit__20_register_describer_client_connected";
        r_client_disconnected = "__preinit__20_register_describer_client_disconnected";
        r_register_user = "__preinit__20_register_describer_register_user";
        r_update_profile = "__preinit__20_register_describer_update_profile";
        r_set_presence = "__preinit__20_register_describer_set_presence";
        r_create_server = "__preinit__20_register_describer_create_server";
        r_join_server = "__preinit__20_register_describer_join_server";
        r_leave_server = "__preinit__20_register_describer_leave_server";
        r_update_server = "__preinit__20_register_describer_update_server";
        r_delete_server = "__preinit__20_register_describer_delete_server";
        r_set_member_role = "__preinit__20_register_describer_set_member_role";
        r_set_invite_only = "__preinit__20_register_describer_set_invite_only";
        r_invite_to_server = "__preinit__20_register_describer_invite_to_server";
        r_create_channel = "__preinit__20_register_describer_create_channel";
        r_update_channel = "__preinit__20_register_describer_update_channel";
        r_delete_channel = "__preinit__20_register_describer_delete_channel";
        r_send_message = "__preinit__20_register_describer_send_message";
        r_edit_message = "__preinit__20_register_describer_edit_message";
        r_delete_message = "__preinit__20_register_describer_delete_message";
        r_add_reaction = "__preinit__20_register_describer_add_reaction";
        r_remove_reaction = "__preinit__20_register_describer_remove_reaction";
        r_create_thread = "__preinit__20_register_describer_create_thread";
        r_archive_thread = "__preinit__20_register_describer_archive_thread";
        r_start_dm = "__preinit__20_register_describer_start_dm";
        r_send_dm = "__preinit__20_register_describer_send_dm";
        r_mark_dm_read = "__preinit__20_register_describer_mark_dm_read";
        r_mark_channel_read = "__preinit__20_register_describer_mark_channel_read";
        r_set_typing = "__preinit__20_register_describer_set_typing";
        r_dismiss_notification = "__preinit__20_register_describer_dismiss_notification";
        r_create_task = "__preinit__20_register_describer_create_task";
        r_claim_task = "__preinit__20_register_describer_claim_task";
        r_renew_task = "__preinit__20_register_describer_renew_task";
        r_complete_task = "__preinit__20_register_describer_complete_task";
        r_fail_task = "__preinit__20_register_describer_fail_task";
        r_release_task = "__preinit__20_register_describer_release_task";
        r_cancel_task = "__preinit__20_register_describer_cancel_task";
        r_reassign_task = "__preinit__20_register_describer_reassign_task";
        r_release_all = "__preinit__20_register_describer_release_all";
        r_acquire_lease = "__preinit__20_register_describer_acquire_lease";
        r_renew_lease = "__preinit__20_register_describer_renew_lease";
        r_release_lease = "__preinit__20_register_describer_release_lease";
        r_cast_vote = "__preinit__20_register_describer_cast_vote";
        r_expire = "__preinit__20_register_describer_expire";
        r_send_message_keyed = "__preinit__20_register_describer_send_message_keyed";
        r_register_session = "__preinit__20_register_describer_register_session";
        r_set_session_state = "__preinit__20_register_describer_set_session_state";
        r_end_session = "__preinit__20_register_describer_end_session";
        r_follow_channel = "__preinit__20_register_describer_follow_channel";
        r_address_sessions = "__preinit__20_register_describer_address_sessions";
        r_mark_delivered = "__preinit__20_register_describer_mark_delivered";
        r_mark_read = "__preinit__20_register_describer_mark_read";
        r_send_dm_keyed = "__preinit__20_register_describer_send_dm_keyed";
    }
}

// --------------------------------------------------------------------------------------------
// Start-up: registrations, the module def, the schemas

struct Module {
    reducers: HashMap<String, usize>,
}

fn start() -> Result<Module, String> {
    let mut preinits: Vec<(&str, unsafe extern "C" fn())> = preinits::ALL.to_vec();
    preinits.sort_by_key(|(name, _)| *name);
    for (_, f) in preinits {
        unsafe { f() };
    }
    let sink = with_host(|h| {
        let handle = h.handle();
        h.sinks.insert(handle, Vec::new());
        handle
    });
    unsafe { __describe_module__(sink) };
    let bytes = with_host(|h| h.sinks.remove(&sink)).unwrap_or_default();
    let def: RawModuleDefV10 = match bsatn::from_slice::<RawModuleDef>(&bytes) {
        Ok(RawModuleDef::V10(def)) => def,
        Ok(_) => return Err("the module def is not V10".into()),
        Err(e) => return Err(format!("undecodable module def: {e}")),
    };
    let mut typespace = def.typespace().cloned().ok_or("no typespace")?;
    typespace
        .inline_all_typerefs()
        .map_err(|e| format!("typespace: {e:?}"))?;
    let tables = def.tables().ok_or("no tables")?;
    with_host(|h| -> Result<(), String> {
        for table in tables {
            let row_type = match &typespace[table.product_type_ref] {
                AlgebraicType::Product(p) => p.clone(),
                other => return Err(format!("{}: row type {other:?}", table.source_name)),
            };
            let name = table.source_name.to_string();
            let column_names: Vec<String> = row_type
                .elements
                .iter()
                .map(|e| e.name().map(|n| n.to_string()).unwrap_or_default())
                .collect();
            let t = h.tables.len();
            let uniques: Vec<Vec<usize>> = table
                .constraints
                .iter()
                .filter_map(|c| match &c.data {
                    RawConstraintDataV9::Unique(u) => {
                        Some(u.columns.iter().map(|c| c.idx()).collect())
                    }
                    _ => None,
                })
                .collect();
            for index in &table.indexes {
                let columns: Vec<usize> = match &index.algorithm {
                    RawIndexAlgorithm::BTree { columns } => {
                        columns.iter().map(|c| c.idx()).collect()
                    }
                    other => return Err(format!("{name}: unsupported index {other:?}")),
                };
                if columns.len() != 1 {
                    return Err(format!("{name}: multi-column indexes are not simulated"));
                }
                let cols: Vec<&str> = columns.iter().map(|&c| column_names[c].as_str()).collect();
                let index_name = format!("{name}_{}_idx_btree", cols.join("_"));
                let unique = uniques.contains(&columns);
                h.index_ids.insert(index_name, h.indexes.len());
                h.indexes.push(IndexSchema {
                    table: t,
                    columns,
                    unique,
                });
            }
            let primary_key = table.primary_key.iter().next().map(|c| c.idx());
            let sequences = table.sequences.iter().map(|s| s.column.idx()).collect();
            h.table_ids.insert(name.clone(), t);
            h.tables.push(TableSchema {
                name,
                row_type,
                primary_key,
                uniques,
                sequences,
            });
            h.rows.push(Vec::new());
            h.next_seq.push(BTreeMap::new());
        }
        Ok(())
    })?;
    let mut reducers: HashMap<String, usize> = def
        .reducers()
        .ok_or("no reducers")?
        .iter()
        .enumerate()
        .map(|(i, r)| (r.source_name.to_string(), i))
        .collect();
    for lifecycle in def.lifecycle_reducers().into_iter().flatten() {
        let alias = match lifecycle.lifecycle_spec {
            Lifecycle::Init => "<init>",
            Lifecycle::OnConnect => "<client_connected>",
            Lifecycle::OnDisconnect => "<client_disconnected>",
            _ => continue,
        };
        let id = reducers[&lifecycle.function_name.to_string()];
        reducers.insert(alias.to_string(), id);
    }
    Ok(Module { reducers })
}

// --------------------------------------------------------------------------------------------
// Calls

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Result<Vec<u8>, String> {
    if !text.len().is_multiple_of(2) {
        return Err(format!("odd hex length {}", text.len()));
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).map_err(|e| e.to_string()))
        .collect()
}

/// The identity's 32 bytes, little-endian, from its big-endian hex.
fn identity_words(hex_be: &str) -> Result<[u64; 4], String> {
    let mut bytes = unhex(hex_be)?;
    if bytes.len() != 32 {
        return Err(format!("an identity is 32 bytes, got {}", bytes.len()));
    }
    bytes.reverse();
    let mut words = [0u64; 4];
    for (i, word) in words.iter_mut().enumerate() {
        *word = u64::from_le_bytes(bytes[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
    }
    Ok(words)
}

type Snapshot = Vec<Vec<Row>>;

fn call(
    module: &Module,
    reducer: &str,
    sender: &str,
    timestamp: u64,
    args: Vec<u8>,
) -> Result<(Result<(), String>, Snapshot), String> {
    let id = *module
        .reducers
        .get(reducer)
        .ok_or_else(|| format!("no reducer {reducer}"))?;
    let words = identity_words(sender)?;
    let (before, seqs, source, sink) = with_host(|h| {
        let source = if args.is_empty() {
            0
        } else {
            let handle = h.handle();
            h.sources.insert(handle, args);
            handle
        };
        let sink = h.handle();
        h.sinks.insert(sink, Vec::new());
        (h.rows.clone(), h.next_seq.clone(), source, sink)
    });
    let code = unsafe {
        __call_reducer__(
            id, words[0], words[1], words[2], words[3], 1, 0, timestamp, source, sink,
        )
    };
    let error = with_host(|h| {
        h.sources.remove(&source);
        h.iters.clear();
        h.sinks.remove(&sink).unwrap_or_default()
    });
    if code == 0 {
        return Ok((Ok(()), before));
    }
    if code as u16 != HOST_CALL_FAILURE {
        return Err(format!("{reducer}: unexpected return code {code}"));
    }
    // A refused call changes nothing: roll back.
    with_host(|h| {
        h.rows = before.clone();
        h.next_seq = seqs;
    });
    Ok((Err(String::from_utf8_lossy(&error).into_owned()), before))
}

/// The net changes between `before` and now: rows (by primary key) that differ.
fn changes(before: &Snapshot) -> Vec<(bool, String, Vec<u8>)> {
    with_host(|h| {
        let mut out = Vec::new();
        for (t, schema) in h.tables.iter().enumerate() {
            let key = |r: &Row| match schema.primary_key {
                Some(pk) => bsatn::to_vec(&r.value.elements[pk]).expect("encode key"),
                None => r.bytes.clone(),
            };
            let old: BTreeMap<Vec<u8>, &Row> = before[t].iter().map(|r| (key(r), r)).collect();
            let new: BTreeMap<Vec<u8>, &Row> = h.rows[t].iter().map(|r| (key(r), r)).collect();
            for (k, r) in &old {
                if new.get(k).is_none_or(|n| n.bytes != r.bytes) {
                    out.push((false, schema.name.clone(), r.bytes.clone()));
                }
            }
            for (k, r) in &new {
                if old.get(k).is_none_or(|o| o.bytes != r.bytes) {
                    out.push((true, schema.name.clone(), r.bytes.clone()));
                }
            }
        }
        out
    })
}

fn serve(module: &Module, line: &str, out: &mut impl Write) -> Result<(), String> {
    let parts: Vec<&str> = line.split(' ').collect();
    let io = |e: io::Error| e.to_string();
    match parts.as_slice() {
        ["call", reducer, sender, timestamp, args @ ..] => {
            let timestamp: u64 = timestamp.parse().map_err(|e| format!("timestamp: {e}"))?;
            let args = unhex(args.first().copied().unwrap_or(""))?;
            let (outcome, before) = call(module, reducer, sender, timestamp, args)?;
            match outcome {
                Ok(()) => {
                    writeln!(out, "ok").map_err(io)?;
                    for (insert, table, row) in changes(&before) {
                        let kind = if insert { "ins" } else { "del" };
                        writeln!(out, "{kind} {table} {}", hex(&row)).map_err(io)?;
                    }
                }
                Err(message) => writeln!(out, "err {}", hex(message.as_bytes())).map_err(io)?,
            }
        }
        ["rows", table] => {
            let rows = with_host(|h| -> Result<Vec<Vec<u8>>, String> {
                let t = *h
                    .table_ids
                    .get(*table)
                    .ok_or_else(|| format!("no table {table}"))?;
                let mut rows: Vec<&Row> = h.rows[t].iter().collect();
                if let Some(pk) = h.tables[t].primary_key {
                    rows.sort_by(|a, b| a.value.elements[pk].cmp(&b.value.elements[pk]));
                }
                Ok(rows.into_iter().map(|r| r.bytes.clone()).collect())
            })?;
            for row in rows {
                writeln!(out, "row {}", hex(&row)).map_err(io)?;
            }
        }
        _ => return Err(format!("unknown command {line:?}")),
    }
    writeln!(out, "end").map_err(io)?;
    out.flush().map_err(io)
}

fn main() -> Result<(), String> {
    let module = start()?;
    let stdin = io::stdin();
    let mut out = io::BufWriter::new(io::stdout().lock());
    for line in stdin.lock().lines() {
        let line = line.map_err(|e| e.to_string())?;
        if line.is_empty() {
            continue;
        }
        serve(&module, &line, &mut out)?;
    }
    Ok(())
}
