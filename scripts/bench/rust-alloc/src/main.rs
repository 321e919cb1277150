//! Typical Rust allocation patterns: a map of strings to buffers churned,
//! vectors grown, and boxes sent between threads.
use std::collections::BTreeMap;
use std::sync::mpsc;
use std::thread;

#[cfg(feature = "snmalloc")]
#[global_allocator]
static ALLOC: snmalloc_rs::SnMalloc = snmalloc_rs::SnMalloc;

fn main() {
    let rounds: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(20);
    let mut sum = 0usize;
    for r in 0..rounds {
        let mut map = BTreeMap::new();
        for i in 0..50_000usize {
            map.insert(format!("key-{i}-{r}"), vec![i as u8; i % 200 + 1]);
        }
        map.retain(|k, _| k.len() % 3 != 0);
        sum += map.values().map(Vec::len).sum::<usize>();

        let mut v: Vec<String> = Vec::new();
        for i in 0..100_000 {
            v.push(i.to_string());
        }
        sum += v.iter().map(String::len).sum::<usize>();

        let (tx, rx) = mpsc::sync_channel::<Box<[u8]>>(1024);
        let producer = thread::spawn(move || {
            for i in 0..100_000usize {
                tx.send(vec![1u8; i % 512 + 1].into_boxed_slice()).unwrap();
            }
        });
        sum += rx.iter().map(|b| b.len()).sum::<usize>();
        producer.join().unwrap();
    }
    println!("rust-alloc done {sum}");
}
