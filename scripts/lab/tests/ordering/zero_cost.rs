// expect: builds
// The same two-lock path, ordered and plain: the lab compares their machine code.
crate::lock_order!(SemA, SemB);

#[no_mangle]
#[inline(never)]
pub(crate) fn rd_ordered_path(a: &Ordered<u32, SemA>, b: &Ordered<u32, SemB>, held: &mut Token<'_, Unlocked>) -> u32 {
    let (ga, mut ta) = a.lock(held);
    let (gb, _) = b.lock(&mut ta);
    *ga ^ *gb
}

#[no_mangle]
#[inline(never)]
pub(crate) fn rd_plain_path(a: &Semaphore<u32>, b: &Semaphore<u32>) -> u32 {
    let ga = a.lock();
    let gb = b.lock();
    *ga ^ *gb
}
