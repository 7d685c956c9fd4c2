// expect: builds
// Three locks, every path in the declared order, one of them skipping a level.
crate::lock_order!(SemA, SemB, SemC);

pub(crate) fn a_then_b(a: &Ordered<(), SemA>, b: &Ordered<(), SemB>, held: &mut Token<'_, Unlocked>) {
    let (_ga, mut ta) = a.lock(held);
    let _gb = b.lock(&mut ta);
}

pub(crate) fn b_then_c(b: &Ordered<(), SemB>, c: &Ordered<(), SemC>, held: &mut Token<'_, Unlocked>) {
    let (_gb, mut tb) = b.lock(held);
    let _gc = c.lock(&mut tb);
}

pub(crate) fn a_then_c(a: &Ordered<(), SemA>, c: &Ordered<(), SemC>, held: &mut Token<'_, Unlocked>) {
    let (_ga, mut ta) = a.lock(held);
    let _gc = c.lock(&mut ta);
}

pub(crate) fn all_three(
    a: &Ordered<(), SemA>,
    b: &Ordered<(), SemB>,
    c: &Ordered<(), SemC>,
    held: &mut Token<'_, Unlocked>,
) {
    let (_ga, mut ta) = a.lock(held);
    let (_gb, mut tb) = b.lock(&mut ta);
    let _gc = c.lock(&mut tb);
}
