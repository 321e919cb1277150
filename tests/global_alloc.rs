//! `SnMalloc` as Rust's global allocator (this test binary uses it), and its
//! `GlobalAlloc` methods called directly at the edges.

use snmalloc_rs::SnMalloc;
use std::alloc::{GlobalAlloc, Layout};

#[global_allocator]
static ALLOC: SnMalloc = SnMalloc;

fn pattern(p: *mut u8, n: usize, seed: u8) {
    for i in 0..n {
        // SAFETY: p is valid for n bytes.
        unsafe { *p.add(i) = (i as u8).wrapping_mul(31).wrapping_add(seed) };
    }
}

fn has_pattern(p: *const u8, n: usize, seed: u8) -> bool {
    // SAFETY: p is valid for n bytes.
    (0..n).all(|i| unsafe { *p.add(i) } == (i as u8).wrapping_mul(31).wrapping_add(seed))
}

#[test]
fn rust_allocations_are_served_by_snmalloc() {
    let v = vec![7u8; 1000];
    let b = Box::new([0u64; 64]);
    assert!(ALLOC.owns(v.as_ptr()));
    assert!(ALLOC.owns(b.as_ptr().cast()));
    assert!(!ALLOC.owns(std::ptr::null()));
    let on_stack = 5u8;
    assert!(!ALLOC.owns(&on_stack));
}

#[test]
fn sizes_from_one_byte_to_tens_of_mib() {
    let mut size = 1usize;
    while size <= 48 << 20 {
        let layout = Layout::from_size_align(size, 1).unwrap();
        // SAFETY: non-zero size layout; freed with the same layout.
        unsafe {
            let p = ALLOC.alloc(layout);
            assert!(!p.is_null(), "size {size}");
            assert!(ALLOC.usable_size(p).unwrap() >= size);
            pattern(p, size.min(1 << 16), 3);
            *p.add(size - 1) = 0x5a;
            assert!(has_pattern(p, size.min(1 << 16).min(size - 1), 3));
            ALLOC.dealloc(p, layout);
        }
        size = size * 2 + 1;
    }
}

#[test]
fn zero_sized_layouts_get_a_unique_block() {
    // GlobalAlloc callers must not pass size 0, but SnMalloc defines it.
    for align in [1, 16, 4096] {
        let layout = Layout::from_size_align(0, align).unwrap();
        // SAFETY: SnMalloc accepts zero-sized layouts; freed with the same.
        unsafe {
            let a = ALLOC.alloc(layout);
            let b = ALLOC.alloc(layout);
            assert!(!a.is_null() && !b.is_null() && a != b);
            assert_eq!(a as usize % align, 0);
            ALLOC.dealloc(a, layout);
            ALLOC.dealloc(b, layout);
        }
    }
}

#[test]
fn every_alignment_up_to_one_mib() {
    let mut align = 1usize;
    while align <= 1 << 20 {
        for size in [1, 7, align, align + 1, 3 * align, 100_000] {
            let layout = Layout::from_size_align(size, align).unwrap();
            // SAFETY: non-zero size; freed with the same layout.
            unsafe {
                let p = ALLOC.alloc(layout);
                assert!(!p.is_null());
                assert_eq!(p as usize % align, 0, "align {align} size {size}");
                pattern(p, size, 9);
                let z = ALLOC.alloc_zeroed(layout);
                assert_eq!(z as usize % align, 0);
                assert!((0..size).all(|i| *z.add(i) == 0));
                assert!(has_pattern(p, size, 9));
                ALLOC.dealloc(p, layout);
                ALLOC.dealloc(z, layout);
            }
        }
        align *= 2;
    }
}

#[test]
fn zeroed_memory_is_zero_even_after_reuse() {
    for size in [8, 100, 4096, 1 << 20, 5 << 20] {
        let layout = Layout::from_size_align(size, 8).unwrap();
        // SAFETY: non-zero sizes; freed with the same layout.
        unsafe {
            let dirty = ALLOC.alloc(layout);
            std::ptr::write_bytes(dirty, 0xab, size);
            ALLOC.dealloc(dirty, layout);
            let z = ALLOC.alloc_zeroed(layout);
            assert!((0..size).all(|i| *z.add(i) == 0), "size {size}");
            ALLOC.dealloc(z, layout);
        }
    }
}

#[test]
fn realloc_grows_and_shrinks_keeping_data() {
    for align in [1, 8, 64, 4096] {
        let mut layout = Layout::from_size_align(3, align).unwrap();
        // SAFETY: each realloc passes the current layout; data is checked
        // over the bytes both sizes share.
        unsafe {
            let mut p = ALLOC.alloc(layout);
            pattern(p, 3, 1);
            let mut sizes: Vec<usize> = (0..22).map(|i| (1usize << i) + i).collect();
            sizes.extend([1 << 20, 70_000, 100, 17, 1]);
            for new in sizes {
                let keep = layout.size().min(new);
                let q = ALLOC.realloc(p, layout, new);
                assert!(!q.is_null());
                assert_eq!(q as usize % align, 0);
                assert!(
                    has_pattern(q, keep, 1),
                    "align {align} {} -> {new}",
                    layout.size()
                );
                pattern(q, new, 1);
                p = q;
                layout = Layout::from_size_align(new, align).unwrap();
            }
            ALLOC.dealloc(p, layout);
        }
    }
}

#[test]
fn realloc_within_a_size_class_stays_in_place() {
    let layout = Layout::from_size_align(100, 8).unwrap();
    // SAFETY: layouts match the allocation.
    unsafe {
        let p = ALLOC.alloc(layout);
        let usable = ALLOC.usable_size(p).unwrap();
        let q = ALLOC.realloc(p, layout, usable);
        assert_eq!(p, q);
        ALLOC.dealloc(q, Layout::from_size_align(usable, 8).unwrap());
    }
}

#[test]
fn threads_allocate_and_free_each_others_blocks() {
    use std::sync::mpsc;
    let (tx, rx) = mpsc::sync_channel::<Vec<u32>>(256);
    let producers: Vec<_> = (0..4)
        .map(|t| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for i in 0..20_000u32 {
                    let n = (i % 700) as usize + 1;
                    tx.send(vec![t * 1_000_000 + i; n]).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let consumer = std::thread::spawn(move || {
        let mut count = 0;
        for v in rx {
            assert!(ALLOC.owns(v.as_ptr().cast()));
            let first = v[0];
            assert!(v.iter().all(|&x| x == first));
            count += 1;
        }
        count
    });
    for p in producers {
        p.join().unwrap();
    }
    assert_eq!(consumer.join().unwrap(), 80_000);
}

#[test]
fn safe_methods_answer_for_any_address_without_reading_it() {
    let on_stack = 5u8;
    static STATIC: u64 = 7;
    // Memory of no allocator's (in a workspace test the C malloc may be
    // ours: the preload package turns on `override`).
    // SAFETY: an anonymous private mapping.
    let mapped = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(mapped, libc::MAP_FAILED);
    let mapped = mapped.cast::<u8>();
    let big = vec![0u8; 8 << 20];
    let elsewhere: [*const u8; 8] = [
        &on_stack,
        (&STATIC as *const u64).cast(),
        mapped,
        mapped.wrapping_add(100),
        std::ptr::dangling::<u8>(),
        usize::MAX as *const u8,
        (usize::MAX - 4095) as *const u8,
        (1usize << 47) as *const u8,
    ];
    for p in elsewhere {
        assert_eq!(ALLOC.usable_size(p), None, "{p:p}");
        assert!(!ALLOC.owns(p), "{p:p}");
    }
    assert_eq!(ALLOC.usable_size(std::ptr::null()), None);
    assert!(ALLOC.usable_size(big.as_ptr()).unwrap() >= 8 << 20);
    // SAFETY: mapped above, no longer used.
    unsafe { libc::munmap(mapped.cast(), 4096) };
}

#[test]
fn memory_usage_tracks_large_allocations() {
    // Other tests of this process allocate and free at the same time: only
    // what this live block guarantees is asserted.
    let big = vec![1u8; 64 << 20];
    let during = SnMalloc::memory_usage();
    assert!(during.current >= 64 << 20, "{during:?}");
    assert!(during.peak >= during.current);
    drop(big);
}

#[test]
fn impossible_requests_return_null() {
    let layout = Layout::from_size_align(isize::MAX as usize - 4095, 4096).unwrap();
    // SAFETY: a valid layout; the result is only compared with null.
    unsafe {
        assert!(ALLOC.alloc(layout).is_null());
        assert!(ALLOC.alloc_zeroed(layout).is_null());
        let small = Layout::from_size_align(16, 16).unwrap();
        let p = ALLOC.alloc(small);
        pattern(p, 16, 4);
        assert!(ALLOC
            .realloc(p, small, isize::MAX as usize - 4095)
            .is_null());
        assert!(has_pattern(p, 16, 4), "failed realloc must keep the block");
        ALLOC.dealloc(p, small);
    }
    // Larger than the 47-bit user address space, yet a size Rust allows:
    // null at once, with no memory spent on it.
    // Measured in this thread's CPU time, which other tests do not add to.
    let layout = Layout::from_size_align(1 << 47, 4096).unwrap();
    let start = thread_cpu_ms();
    // SAFETY: a valid layout; the result is only compared with null.
    unsafe { assert!(ALLOC.alloc(layout).is_null()) };
    assert!(thread_cpu_ms() - start < 50.0);
}

/// This thread's CPU time (user and system), in milliseconds.
fn thread_cpu_ms() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and out-pointer.
    assert_eq!(
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) },
        0
    );
    t.tv_sec as f64 * 1e3 + t.tv_nsec as f64 / 1e6
}
