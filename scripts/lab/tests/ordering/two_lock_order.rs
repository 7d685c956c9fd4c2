// expect: builds
// The same two locks in the declared order.
crate::lock_order!(SemA, SemB);

pub(crate) fn a_then_b(a: &Ordered<(), SemA>, b: &Ordered<(), SemB>, held: &mut Token<'_, Unlocked>) {
    let (_ga, mut ta) = a.lock(held);
    let _gb = b.lock(&mut ta);
}
