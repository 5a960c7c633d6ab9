//! Path patterns (DESIGN §4.10): one small language over a customer's
//! ordered events, shared by segments (`did PATTERN`), and by funnels, path
//! filters and triggers. A pattern is a regular expression whose letters are
//! events:
//!
//! ```text
//! pattern := alt ["within" DURATION]
//! alt     := seq ("|" seq)*
//! seq     := item (("->" | "=>") item)*
//! item    := atom [ "*" | "+" | "?" | "{n}" | "{n,}" | "{n,m}" ]
//! atom    := term | "." | "$" | "[" ["^"] term ("|" term)* "]" | "(" alt ")"
//! term    := NAME ["[" CONDITION "]"]
//! ```
//!
//! - `A => B`: B is the event right after A. `A -> B`: B comes later, with
//!   any events in between (the nearest B is taken).
//! - Next to a *gap* (an item repeated with `*` or `{0,m}`, such as `[^C]*`
//!   or `.{0,3}`) an arrow adds nothing: the gap itself says what may come
//!   between, so `A -> [^C]* -> B` reads "A, later B, with no C in between".
//! - `.` is any one event; `[A|B]` either of A and B; `[^A|B]` any event
//!   but those; `(…)` groups; `*`, `+`, `?` and `{n,m}` repeat greedily.
//! - A NAME is written bare (`Order Completed`, words joined by single
//!   spaces) or quoted (`'Order Completed'`, needed for globs such as
//!   `'Order*'` and for names holding `and`, `or` or punctuation); the
//!   condition in brackets reads that one event (`Order Completed[revenue > 100]`).
//! - `$` is the end of the customer's events: `A -> B -> [^C]* -> $` is "A,
//!   later B, and never C after it" (a `$` only stands alone; `$pageview`
//!   is a name).
//! - `within 7d`: the first and last events of a match are at most that far
//!   apart.
//!
//! A customer matches when some run of their consecutive events matches.
//! The occurrence reported is the leftmost one (earliest start) and, from
//! there, the one a regular expression's leftmost-first rule picks (greedy
//! repeats take as many events as can still lead to a match, `->` as few);
//! occurrences are counted without overlap, each search starting after the
//! previous occurrence. A pattern must consume at least one event, and a
//! repeated group must too.
//!
//! The matcher is a Pike VM (Thompson NFA with priorities): linear in the
//! events times the pattern's size; with `within` it runs from each start
//! until the window closes. The caller says whether a term matches the event
//! at a position, so the same matcher serves every store.

use std::fmt;

use crate::predicate::Predicate;

/// One event term: a name or glob, with an optional condition on the event.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    /// An event name, or a glob when it holds `*` or `?` (quoted only).
    pub name: String,
    /// The condition in brackets, parsed (compiled by the caller's checks)
    /// and as written, with the column where its text starts.
    pub filter: Option<(Box<Predicate>, String, usize)>,
    /// Where the term starts in the pattern (1-based, in characters).
    pub column: usize,
}

impl Term {
    /// Whether an event name is one this term names.
    pub fn matches_name(&self, event: &str) -> bool {
        if crate::glob::is_glob(&self.name) { crate::glob::glob_match(&self.name, event) } else { self.name == event }
    }
}

/// A parsed pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    /// The pattern as written.
    pub text: String,
    /// Every event term, in order of appearance.
    pub terms: Vec<Term>,
    /// The longest a match may span (µs).
    pub within: Option<i64>,
    prog: Vec<Inst>,
    /// Per instruction, the tests and matches a thread added there reaches
    /// through jumps and splits, in priority order: before the end of the
    /// events (`[0]`, where `End` stops a thread) and at it (`[1]`).
    closures: [Vec<Vec<usize>>; 2],
}

/// The tests and matches reachable from each instruction through jumps and
/// splits, in the order a depth-first walk (first choice first) meets them;
/// `at_end` lets `End` through.
fn closures(prog: &[Inst], at_end: bool) -> Vec<Vec<usize>> {
    (0..prog.len())
        .map(|start| {
            let (mut out, mut stack, mut seen) = (Vec::new(), vec![start], vec![false; prog.len() + 1]);
            while let Some(pc) = stack.pop() {
                if pc >= prog.len() || std::mem::replace(&mut seen[pc], true) {
                    continue;
                }
                match prog[pc] {
                    Inst::Jmp(x) => stack.push(x),
                    Inst::End => {
                        if at_end {
                            stack.push(pc + 1);
                        }
                    }
                    Inst::Split(x, y) => {
                        stack.push(y);
                        stack.push(x);
                    }
                    Inst::Test(_) | Inst::Match => out.push(pc),
                }
            }
            out
        })
        .collect()
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text.trim())
    }
}

/// The tree a pattern parses into.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Term(usize),
    Class(bool, Vec<usize>),
    Any,
    /// The end of the events.
    End,
    Seq(Vec<Node>),
    Alt(Vec<Node>),
    Repeat(Box<Node>, u32, Option<u32>, bool),
}

impl Node {
    /// Whether the node can match no events.
    fn nullable(&self) -> bool {
        match self {
            Node::Term(_) | Node::Class(..) | Node::Any => false,
            Node::End => true,
            Node::Seq(ns) => ns.iter().all(Node::nullable),
            Node::Alt(ns) => ns.iter().any(Node::nullable),
            Node::Repeat(n, min, _, _) => *min == 0 || n.nullable(),
        }
    }

    /// A gap: one event's worth repeated from zero to many times.
    fn is_gap(&self) -> bool {
        matches!(self, Node::Repeat(n, 0, max, _) if max.is_none_or(|m| m > 1)
            && matches!(**n, Node::Term(_) | Node::Class(..) | Node::Any))
    }
}

/// How one step of the program tests an event.
#[derive(Debug, Clone, PartialEq)]
enum Test {
    Term(usize),
    Class(bool, Vec<usize>),
    Any,
}

#[derive(Debug, Clone, PartialEq)]
enum Inst {
    Test(Test),
    /// Try the first, then the second.
    Split(usize, usize),
    Jmp(usize),
    /// Continues only at the end of the events.
    End,
    Match,
}

/// The most instructions a pattern may compile to (repetition counts
/// multiply the pattern).
const MAX_PROGRAM: usize = 20_000;

impl Pattern {
    /// Parses a whole pattern; errors name the column.
    pub fn parse(src: &str) -> Result<Pattern, String> {
        let (p, used) = Pattern::parse_prefix(src)?;
        let rest: String = src.chars().skip(used).collect();
        if !rest.trim().is_empty() {
            let col = used + 1 + rest.chars().take_while(|c| c.is_whitespace()).count();
            return Err(format!("at column {col}: unexpected '{}' after a complete pattern", rest.trim()));
        }
        Ok(p)
    }

    /// Parses the longest pattern at the start of `src`, stopping before a
    /// comparison operator, `and`, `or` or an unmatched `)`: how a condition
    /// reads `did PATTERN >= 2 and …`. Returns the pattern and the number of
    /// characters it took.
    pub fn parse_prefix(src: &str) -> Result<(Pattern, usize), String> {
        let chars: Vec<char> = src.chars().collect();
        let mut p = Parser { chars: &chars, pos: 0, terms: Vec::new() };
        let node = p.alt(0)?;
        let mut within = None;
        let before_within = p.pos;
        p.skip_ws();
        if p.word_ahead().is_some_and(|w| w.eq_ignore_ascii_case("within")) {
            p.pos += "within".len();
            p.skip_ws();
            let at = p.pos + 1;
            let w = p
                .word_ahead()
                .filter(|w| !w.is_empty())
                .ok_or_else(|| format!("at column {at}: expected a duration after 'within' (7d, 12h, 30m)"))?;
            p.pos += w.chars().count();
            let mut text = w.clone();
            // `3 days`: a number and its unit apart.
            if w.chars().all(|c| c.is_ascii_digit() || c == '.') {
                let save = p.pos;
                p.skip_ws();
                match p.word_ahead().filter(|u| {
                    !u.is_empty()
                        && u.chars().all(|c| c.is_alphabetic())
                        && !["and", "or"].iter().any(|k| u.eq_ignore_ascii_case(k))
                }) {
                    Some(unit) => {
                        p.pos += unit.chars().count();
                        text += &unit;
                    }
                    None => p.pos = save,
                }
            }
            within = Some(crate::time::parse_duration(&text).map_err(|e| format!("at column {at}: {e}"))?);
        } else {
            p.pos = before_within;
        }
        if node.nullable() {
            return Err("at column 1: the pattern can match no events at all (every part of it is optional); \
                 a pattern needs at least one event it must see"
                .to_string());
        }
        let mut prog = Vec::new();
        compile(&node, &mut prog)?;
        prog.push(Inst::Match);
        let text: String = chars[..p.pos].iter().collect();
        let closures = [closures(&prog, false), closures(&prog, true)];
        Ok((Pattern { text: text.trim_end().to_string(), terms: p.terms, within, prog, closures }, p.pos))
    }

    /// Whether the pattern is one plain event term (no arrows, repeats or
    /// classes; a `within` aside): what `did 'EVENT'` reads as a count of
    /// events, with `within` as how recent they are.
    pub fn is_single_term(&self) -> bool {
        self.prog.len() == 2 && matches!(self.prog[0], Inst::Test(Test::Term(0)))
    }

    /// The leftmost occurrence at or after `from` among `n` events: its
    /// start and end (exclusive). `ts(i)` is event i's time (µs), and
    /// `test(term, i)` whether term matches event i.
    pub fn find(
        &self,
        n: usize,
        from: usize,
        ts: &dyn Fn(usize) -> i64,
        test: &mut dyn FnMut(usize, usize) -> bool,
    ) -> Option<(usize, usize)> {
        let mut search = Search::default();
        Vm::new(self, n, &mut search).find(from, ts, &mut Memo::new(self, n, test))
    }

    /// [`find`](Self::find) when every term is known per event up front:
    /// `masks[i]` has bit t set when term t names event i (at most 64
    /// terms; see [`Pattern::maskable`]). `search` holds the buffers, to be
    /// reused from one sequence to the next.
    pub fn find_masked(
        &self,
        masks: &[u64],
        from: usize,
        ts: &dyn Fn(usize) -> i64,
        search: &mut Search,
    ) -> Option<(usize, usize)> {
        Vm::new(self, masks.len(), search).find(from, ts, &mut Masks(masks))
    }

    /// Whether [`find_masked`](Self::find_masked) can serve: at most 64 terms.
    pub fn maskable(&self) -> bool {
        self.terms.len() <= 64
    }

    /// The terms one of which every match starts with, when there are
    /// such (no match can start with `.`, `[^…]` or at the end): a search
    /// may skip to the first event one of them names. None otherwise.
    pub fn first_terms(&self) -> Option<Vec<usize>> {
        let mut stack = vec![0usize];
        let mut seen = vec![false; self.prog.len()];
        let mut terms = Vec::new();
        while let Some(pc) = stack.pop() {
            if std::mem::replace(&mut seen[pc], true) {
                continue;
            }
            match &self.prog[pc] {
                Inst::Jmp(x) => stack.push(*x),
                Inst::Split(x, y) => stack.extend([*x, *y]),
                Inst::Test(Test::Term(t)) => terms.push(*t),
                Inst::Test(Test::Class(false, ts)) => terms.extend(ts),
                Inst::Test(Test::Any | Test::Class(true, _)) | Inst::End | Inst::Match => return None,
            }
        }
        terms.sort_unstable();
        terms.dedup();
        Some(terms)
    }

    /// The terms every match needs an event of (a search can skip events
    /// that have none of them): a term is required when no path through
    /// the pattern reaches its end without testing that term alone.
    pub fn required_terms(&self) -> Vec<usize> {
        (0..self.terms.len())
            .filter(|&t| {
                let mut stack = vec![0usize];
                let mut seen = vec![false; self.prog.len() + 1];
                while let Some(pc) = stack.pop() {
                    if pc >= self.prog.len() || std::mem::replace(&mut seen[pc], true) {
                        continue;
                    }
                    match &self.prog[pc] {
                        Inst::Match => return false,
                        Inst::Jmp(x) => stack.push(*x),
                        Inst::Split(x, y) => stack.extend([*x, *y]),
                        Inst::Test(Test::Term(u)) if *u == t => {}
                        Inst::Test(_) | Inst::End => stack.push(pc + 1),
                    }
                }
                true
            })
            .collect()
    }

    /// How many occurrences, without overlap, `n` events hold.
    pub fn count(&self, n: usize, ts: &dyn Fn(usize) -> i64, test: &mut dyn FnMut(usize, usize) -> bool) -> usize {
        let mut search = Search::default();
        let mut vm = Vm::new(self, n, &mut search);
        let mut terms = Memo::new(self, n, test);
        let (mut from, mut count) = (0, 0);
        while from < n {
            match vm.find(from, ts, &mut terms) {
                Some((_, end)) => {
                    count += 1;
                    from = end;
                }
                None => break,
            }
        }
        count
    }
}

/// The buffers of a search (thread lists, the step each instruction was
/// last added at), kept between searches so a fold over many customers
/// allocates them once per thread.
#[derive(Debug, Default)]
pub struct Search {
    clist: Vec<(usize, usize)>,
    nlist: Vec<(usize, usize)>,
    seen: Vec<usize>,
    steps: usize,
    dfa: Dfa,
}

/// The Pike VM's steps cached as a DFA, built lazily while searching
/// events known by their term bit sets. A state is a thread list's
/// instructions in priority order (the threads' starts travel beside it);
/// a transition, for one bit set and whether a new thread starts there,
/// gives the next state, which thread of the current list (or the new
/// start) each next thread comes from, and the thread that matched, if
/// one did. It serves every step whose next position is not the end of
/// the events (the last steps run on the VM, where `End` lets threads
/// through), and only patterns without `within`.
#[derive(Debug, Default)]
struct Dfa {
    /// The pattern it was built for.
    key: String,
    states: Vec<DState>,
    index: std::collections::HashMap<Vec<u32>, u32>,
    trans: Vec<DTrans>,
    /// The most states it keeps (0: [`DFA_STATES`]; tests set it low).
    limit: usize,
}

#[derive(Debug)]
struct DState {
    pcs: Vec<u32>,
    /// (bit set, new start?) → transition.
    out: Vec<(u64, bool, u32)>,
}

#[derive(Debug)]
struct DTrans {
    next: u32,
    /// Per thread of the next state: its source, an index into the current
    /// list followed by the new start's threads.
    from: Vec<u32>,
    /// The first thread (same indexing) at `Match`, if any.
    matched: Option<u32>,
}

/// The most states a DFA keeps before it starts over.
const DFA_STATES: usize = 4096;

impl Dfa {
    fn limit(&self) -> usize {
        if self.limit == 0 { DFA_STATES } else { self.limit }
    }

    fn reset(&mut self, key: &str) {
        self.key = key.to_string();
        self.states.clear();
        self.index.clear();
        self.trans.clear();
        // State 0: no threads.
        self.states.push(DState { pcs: Vec::new(), out: Vec::new() });
        self.index.insert(Vec::new(), 0);
    }

    fn intern(&mut self, pcs: Vec<u32>) -> u32 {
        if let Some(&i) = self.index.get(&pcs) {
            return i;
        }
        let i = self.states.len() as u32;
        self.index.insert(pcs.clone(), i);
        self.states.push(DState { pcs, out: Vec::new() });
        i
    }

    /// The transition of `state` on an event with bit set `mask`.
    fn step(&mut self, pattern: &Pattern, state: u32, mask: u64, start: bool) -> u32 {
        if let Some(&(_, _, t)) = self.states[state as usize].out.iter().find(|o| o.0 == mask && o.1 == start) {
            return t;
        }
        // One step of the VM over the list, as `Vm::run` takes it.
        let mut list: Vec<u32> = self.states[state as usize].pcs.clone();
        if start {
            for &t in &pattern.closures[0][0] {
                if !list.contains(&(t as u32)) {
                    list.push(t as u32);
                }
            }
        }
        let (mut next, mut from, mut matched) = (Vec::new(), Vec::new(), None);
        for (k, &pc) in list.iter().enumerate() {
            match &pattern.prog[pc as usize] {
                Inst::Match => {
                    matched = Some(k as u32);
                    break;
                }
                Inst::Test(what) => {
                    let passes = match what {
                        Test::Any => true,
                        Test::Term(t) => mask >> t & 1 == 1,
                        Test::Class(neg, ts) => ts.iter().any(|&t| mask >> t & 1 == 1) != *neg,
                    };
                    if passes {
                        for &t in &pattern.closures[0][pc as usize + 1] {
                            if !next.contains(&(t as u32)) {
                                next.push(t as u32);
                                from.push(k as u32);
                            }
                        }
                    }
                }
                _ => unreachable!("jumps and splits are followed when threads are added"),
            }
        }
        let next = self.intern(next);
        let t = self.trans.len() as u32;
        self.trans.push(DTrans { next, from, matched });
        self.states[state as usize].out.push((mask, start, t));
        t
    }
}

/// How a search learns whether term t names event i.
trait Terms {
    fn term(&mut self, t: usize, i: usize) -> bool;
    /// Every term's test of event i at once, when known up front.
    fn mask(&self, _i: usize) -> Option<u64> {
        None
    }
}

/// Term tests asked of a closure, each at most once (memo: 0 unknown, 1
/// no, 2 yes; `[i * terms + t]`).
struct Memo<'a> {
    memo: Vec<u8>,
    terms: usize,
    n: usize,
    test: &'a mut dyn FnMut(usize, usize) -> bool,
}

impl<'a> Memo<'a> {
    fn new(pattern: &Pattern, n: usize, test: &'a mut dyn FnMut(usize, usize) -> bool) -> Memo<'a> {
        Memo { memo: Vec::new(), terms: pattern.terms.len(), n, test }
    }
}

impl Terms for Memo<'_> {
    fn term(&mut self, t: usize, i: usize) -> bool {
        if self.memo.is_empty() {
            self.memo = vec![0; self.n * self.terms];
        }
        let k = i * self.terms + t;
        if self.memo[k] == 0 {
            self.memo[k] = if (self.test)(t, i) { 2 } else { 1 };
        }
        self.memo[k] == 2
    }
}

/// Term tests read from a bit set per event.
struct Masks<'a>(&'a [u64]);

impl Terms for Masks<'_> {
    fn term(&mut self, t: usize, i: usize) -> bool {
        self.0[i] >> t & 1 == 1
    }

    fn mask(&self, i: usize) -> Option<u64> {
        Some(self.0[i])
    }
}

fn compile(node: &Node, prog: &mut Vec<Inst>) -> Result<(), String> {
    if prog.len() > MAX_PROGRAM {
        return Err(format!(
            "the pattern is too large once its repetitions are written out (over {MAX_PROGRAM} steps); \
             use smaller counts in {{n,m}}"
        ));
    }
    match node {
        Node::Term(t) => prog.push(Inst::Test(Test::Term(*t))),
        Node::Class(neg, ts) => prog.push(Inst::Test(Test::Class(*neg, ts.clone()))),
        Node::Any => prog.push(Inst::Test(Test::Any)),
        Node::End => prog.push(Inst::End),
        Node::Seq(ns) => {
            for n in ns {
                compile(n, prog)?;
            }
        }
        Node::Alt(ns) => {
            // split L1, next; L1: a; jmp end; next: split L2, …
            let mut jumps = Vec::new();
            for (i, n) in ns.iter().enumerate() {
                if i + 1 < ns.len() {
                    let split = prog.len();
                    prog.push(Inst::Split(split + 1, 0));
                    compile(n, prog)?;
                    jumps.push(prog.len());
                    prog.push(Inst::Jmp(0));
                    let next = prog.len();
                    prog[split] = Inst::Split(split + 1, next);
                } else {
                    compile(n, prog)?;
                }
            }
            let end = prog.len();
            for j in jumps {
                prog[j] = Inst::Jmp(end);
            }
        }
        Node::Repeat(n, min, max, greedy) => {
            for _ in 0..*min {
                compile(n, prog)?;
            }
            let choice = |prog: &mut Vec<Inst>, at: usize, body: usize, exit: usize| {
                prog[at] = if *greedy { Inst::Split(body, exit) } else { Inst::Split(exit, body) };
            };
            match max {
                None => {
                    let split = prog.len();
                    prog.push(Inst::Jmp(0));
                    compile(n, prog)?;
                    prog.push(Inst::Jmp(split));
                    let exit = prog.len();
                    choice(prog, split, split + 1, exit);
                }
                Some(max) => {
                    let mut splits = Vec::new();
                    for _ in *min..*max {
                        splits.push(prog.len());
                        prog.push(Inst::Jmp(0));
                        compile(n, prog)?;
                    }
                    let exit = prog.len();
                    for s in splits {
                        choice(prog, s, s + 1, exit);
                    }
                }
            }
        }
    }
    Ok(())
}

/// The Pike VM's state, reused between searches over one sequence.
struct Vm<'p, 's> {
    prog: &'p [Inst],
    pattern: &'p Pattern,
    n: usize,
    s: &'s mut Search,
}

impl<'p, 's> Vm<'p, 's> {
    fn new(pattern: &'p Pattern, n: usize, s: &'s mut Search) -> Vm<'p, 's> {
        if s.seen.len() != pattern.prog.len() {
            s.seen = vec![usize::MAX; pattern.prog.len()];
            s.steps = 0;
        }
        // Steps must stay unique across searches while `seen` is kept.
        if s.steps > usize::MAX / 2 {
            s.seen.iter_mut().for_each(|x| *x = usize::MAX);
            s.steps = 0;
        }
        Vm { prog: &pattern.prog, pattern, n, s }
    }

    fn passes<T: Terms>(what: &Test, i: usize, terms: &mut T) -> bool {
        match what {
            Test::Any => true,
            Test::Term(t) => terms.term(*t, i),
            Test::Class(neg, ts) => ts.iter().any(|&t| terms.term(t, i)) != *neg,
        }
    }

    /// Adds a thread at `pc` (following jumps and splits in priority order,
    /// through the precomputed closure) to `nlist` for position `step`.
    fn add(&mut self, pc: usize, start: usize, step: usize, at: usize, to_next: bool) {
        let targets = &self.pattern.closures[usize::from(at == self.n)][pc];
        let s = &mut *self.s;
        let list = if to_next { &mut s.nlist } else { &mut s.clist };
        for &t in targets {
            if s.seen[t] != step {
                s.seen[t] = step;
                list.push((t, start));
            }
        }
    }

    fn find<T: Terms>(&mut self, from: usize, ts: &dyn Fn(usize) -> i64, terms: &mut T) -> Option<(usize, usize)> {
        match self.pattern.within {
            None => self.run(from, None, ts, terms),
            // Threads of different starts expire at different times, so
            // each start runs alone until its window closes.
            Some(_) => (from..self.n).find_map(|s| self.run(s, Some(s), ts, terms)),
        }
    }

    /// The unanchored search's steps from `from` while the next position
    /// is before the end, on the DFA: where it stopped, with the VM's
    /// thread list there (in `clist`) and the match found so far.
    fn run_dfa<T: Terms>(&mut self, from: usize, terms: &T) -> (usize, Option<(usize, usize)>) {
        let pattern = self.pattern;
        let s = &mut *self.s;
        if s.dfa.key != pattern.text || s.dfa.states.is_empty() || s.dfa.states.len() > s.dfa.limit() {
            s.dfa.reset(&pattern.text);
        }
        let (mut state, mut starts, mut next_starts) =
            (0u32, std::mem::take(&mut s.clist), std::mem::take(&mut s.nlist));
        starts.clear();
        let mut matched = None;
        let mut pos = from;
        // A search that keeps making states (a pattern whose thread lists
        // vary without end) hands the rest to the VM.
        while pos + 1 < self.n && s.dfa.states.len() <= s.dfa.limit() {
            let start = matched.is_none();
            if state == 0 && !start {
                break;
            }
            let Some(mask) = terms.mask(pos) else { break };
            let t = s.dfa.step(pattern, state, mask, start) as usize;
            let tr = &s.dfa.trans[t];
            let origin = |k: u32| starts.get(k as usize).map_or(pos, |x: &(usize, usize)| x.1);
            if let Some(k) = tr.matched {
                matched = Some((origin(k), pos));
            }
            next_starts.clear();
            let pcs = &s.dfa.states[tr.next as usize].pcs;
            next_starts.extend(tr.from.iter().zip(pcs).map(|(&k, &pc)| (pc as usize, origin(k))));
            std::mem::swap(&mut starts, &mut next_starts);
            state = tr.next;
            pos += 1;
            if state == 0 && matched.is_some() {
                break;
            }
        }
        s.clist = starts;
        s.nlist = next_starts;
        (pos, matched)
    }

    /// One leftmost-first search from `from`; anchored at `anchor` when
    /// given.
    fn run<T: Terms>(
        &mut self,
        from: usize,
        anchor: Option<usize>,
        ts: &dyn Fn(usize) -> i64,
        terms: &mut T,
    ) -> Option<(usize, usize)> {
        // Steps are numbered uniquely across runs so `seen` needs no reset.
        let base = self.s.steps;
        self.s.steps += self.n + 2 - from;
        self.s.clist.clear();
        let mut matched = None;
        // The steps the DFA can take, then the VM from where it stopped.
        let mut resume = from;
        if anchor.is_none() && self.pattern.within.is_none() && from + 1 < self.n && terms.mask(from).is_some() {
            let (pos, found) = self.run_dfa(from, terms);
            resume = pos;
            matched = found;
            let step = base + (pos - from);
            for &(pc, _) in &self.s.clist {
                self.s.seen[pc] = step;
            }
        }
        for pos in resume..=self.n {
            let step = base + (pos - from);
            if matched.is_none() && anchor.is_none_or(|a| a == pos) {
                self.add(0, pos, step, pos, false);
            }
            if self.s.clist.is_empty() {
                if matched.is_some() || anchor.is_some() {
                    break;
                }
                continue;
            }
            self.s.nlist.clear();
            let clist = std::mem::take(&mut self.s.clist);
            for &(pc, start) in &clist {
                match &self.prog[pc] {
                    Inst::Match => {
                        matched = Some((start, pos));
                        // Lower-priority threads lose to this match.
                        break;
                    }
                    Inst::Test(what) => {
                        if pos >= self.n {
                            continue;
                        }
                        if self.pattern.within.is_some_and(|w| ts(pos) - ts(start) > w) {
                            continue;
                        }
                        if Self::passes(what, pos, terms) {
                            self.add(pc + 1, start, step + 1, pos + 1, true);
                        }
                    }
                    _ => unreachable!("jumps and splits are followed when threads are added"),
                }
            }
            self.s.clist = clist;
            std::mem::swap(&mut self.s.clist, &mut self.s.nlist);
        }
        matched
    }
}

struct Parser<'a> {
    chars: &'a [char],
    pos: usize,
    terms: Vec<Term>,
}

fn is_word_char(chars: &[char], i: usize) -> bool {
    let c = chars[i];
    c.is_alphanumeric()
        || matches!(c, '_' | '$' | '.' | ':' | '/' | '&')
        || (c == '-' && chars.get(i + 1) != Some(&'>'))
}

impl Parser<'_> {
    fn col(&self) -> usize {
        self.pos + 1
    }

    fn err(&self, what: impl fmt::Display) -> String {
        format!("at column {}: {what}", self.col())
    }

    fn skip_ws(&mut self) {
        while self.chars.get(self.pos).is_some_and(|c| c.is_whitespace()) {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn starts(&self, s: &str) -> bool {
        s.chars().enumerate().all(|(k, c)| self.chars.get(self.pos + k) == Some(&c))
    }

    /// The bare word at the position (possibly empty).
    fn word_ahead(&self) -> Option<String> {
        let mut j = self.pos;
        while j < self.chars.len() && is_word_char(self.chars, j) {
            j += 1;
        }
        Some(self.chars[self.pos..j].iter().collect())
    }

    /// Whether the input ends here for the pattern: the end, a comparison,
    /// `and`/`or`/`within`, or a `)` that closes something outside.
    fn at_stop(&self, depth: usize) -> bool {
        match self.peek() {
            None => true,
            Some(')') => depth == 0,
            Some('>' | '<' | '!') => true,
            Some('=') => !self.starts("=>"),
            _ => self.word_ahead().is_some_and(|w| ["and", "or", "within"].iter().any(|k| w.eq_ignore_ascii_case(k))),
        }
    }

    fn alt(&mut self, depth: usize) -> Result<Node, String> {
        let mut alts = vec![self.seq(depth)?];
        loop {
            self.skip_ws();
            if self.peek() == Some('|') {
                self.pos += 1;
                alts.push(self.seq(depth)?);
            } else {
                break;
            }
        }
        Ok(if alts.len() == 1 { alts.pop().unwrap_or(Node::Seq(Vec::new())) } else { Node::Alt(alts) })
    }

    fn seq(&mut self, depth: usize) -> Result<Node, String> {
        let mut items = vec![self.item(depth)?];
        loop {
            self.skip_ws();
            let later = if self.starts("->") {
                true
            } else if self.starts("=>") {
                false
            } else {
                if !self.at_stop(depth) && !matches!(self.peek(), Some('|' | ')')) {
                    return Err(self.err(format!(
                        "expected '->' (later) or '=>' (right after) between events, found '{}'",
                        self.peek().unwrap_or(' ')
                    )));
                }
                break;
            };
            self.pos += 2;
            let next = self.item(depth)?;
            let prev = items.last().map(Node::is_gap).unwrap_or(false);
            if later && !prev && !next.is_gap() {
                items.push(Node::Repeat(Box::new(Node::Any), 0, None, false));
            }
            items.push(next);
        }
        Ok(if items.len() == 1 { items.pop().unwrap_or(Node::Seq(Vec::new())) } else { Node::Seq(items) })
    }

    fn item(&mut self, depth: usize) -> Result<Node, String> {
        self.skip_ws();
        let start = self.col();
        let atom = self.atom(depth)?;
        let (min, max, len) = match self.peek() {
            Some('*') => (0, None, 1),
            Some('+') => (1, None, 1),
            Some('?') => (0, Some(1), 1),
            Some('{') => self.braces()?,
            _ => return Ok(atom),
        };
        self.pos += len;
        if atom.nullable() {
            return Err(format!("at column {start}: a repeated part must see at least one event each time"));
        }
        Ok(Node::Repeat(Box::new(atom), min, max, true))
    }

    /// `{n}`, `{n,}` or `{n,m}` at the position (not consumed), with its
    /// length.
    fn braces(&self) -> Result<(u32, Option<u32>, usize), String> {
        let close = (self.pos..self.chars.len()).find(|&j| self.chars[j] == '}');
        let Some(close) = close else { return Err(self.err("'{' without its '}'")) };
        let inner: String = self.chars[self.pos + 1..close].iter().collect();
        let num = |s: &str| {
            s.trim()
                .parse::<u32>()
                .map_err(|_| self.err(format!("'{{{inner}}}' is not a count: write {{2}}, {{2,}} or {{1,3}}")))
        };
        let (min, max) = match inner.split_once(',') {
            None => {
                let n = num(&inner)?;
                (n, Some(n))
            }
            Some((a, b)) if b.trim().is_empty() => (num(a)?, None),
            Some((a, b)) => (num(a)?, Some(num(b)?)),
        };
        if max.is_some_and(|m| m < min) {
            return Err(self.err(format!("'{{{inner}}}': the most is less than the least")));
        }
        if max == Some(0) {
            return Err(self.err(format!("'{{{inner}}}' repeats zero times")));
        }
        Ok((min, max, close + 1 - self.pos))
    }

    fn atom(&mut self, depth: usize) -> Result<Node, String> {
        match self.peek() {
            None => Err(self.err("expected an event (a name, '.', '[A|B]' or '(…)') at the end")),
            Some('(') => {
                let open = self.col();
                self.pos += 1;
                let inner = self.alt(depth + 1)?;
                self.skip_ws();
                if self.peek() != Some(')') {
                    return Err(format!("at column {open}: '(' without its ')'"));
                }
                self.pos += 1;
                Ok(inner)
            }
            Some('[') => self.class(),
            Some('\'' | '"') => {
                let t = self.term()?;
                Ok(Node::Term(t))
            }
            Some(_) => {
                let w = self.word_ahead().unwrap_or_default();
                if w == "." {
                    self.pos += 1;
                    return Ok(Node::Any);
                }
                if w == "$" {
                    self.pos += 1;
                    return Ok(Node::End);
                }
                if w.is_empty() || self.at_stop(depth) {
                    let found = self.peek().map_or(String::from("the end"), |c| format!("'{c}'"));
                    return Err(self.err(format!("expected an event (a name, '.', '[A|B]' or '(…)'), found {found}")));
                }
                Ok(Node::Term(self.term()?))
            }
        }
    }

    /// `[A|B]` or `[^A|B]` at the position.
    fn class(&mut self) -> Result<Node, String> {
        let open = self.col();
        self.pos += 1;
        self.skip_ws();
        let neg = self.peek() == Some('^');
        if neg {
            self.pos += 1;
        }
        let mut terms = Vec::new();
        loop {
            self.skip_ws();
            if self.peek().is_none() {
                return Err(format!("at column {open}: '[' without its ']'"));
            }
            terms.push(self.term()?);
            self.skip_ws();
            match self.peek() {
                Some('|') => self.pos += 1,
                Some(']') => {
                    self.pos += 1;
                    break;
                }
                None => return Err(format!("at column {open}: '[' without its ']'")),
                Some(c) => return Err(self.err(format!("expected '|' or ']' in '[…]', found '{c}'"))),
            }
        }
        Ok(Node::Class(neg, terms))
    }

    /// A name (bare words or quoted) and its optional `[CONDITION]`;
    /// returns the term's index.
    fn term(&mut self) -> Result<usize, String> {
        self.skip_ws();
        let column = self.col();
        let name = match self.peek() {
            Some(q @ ('\'' | '"')) => {
                self.pos += 1;
                let mut s = String::new();
                loop {
                    match self.peek() {
                        None => return Err(format!("at column {column}: unterminated name")),
                        Some('\\') if self.chars.get(self.pos + 1).is_some() => {
                            s.push(self.chars[self.pos + 1]);
                            self.pos += 2;
                        }
                        Some(c) if c == q => {
                            self.pos += 1;
                            break;
                        }
                        Some(c) => {
                            s.push(c);
                            self.pos += 1;
                        }
                    }
                }
                if s.trim().is_empty() {
                    return Err(format!("at column {column}: an empty event name"));
                }
                s
            }
            _ => {
                // Words joined by single spaces, up to an operator or keyword.
                let mut words: Vec<String> = Vec::new();
                loop {
                    let save = self.pos;
                    self.skip_ws();
                    let w = self.word_ahead().unwrap_or_default();
                    let keyword = ["and", "or", "within"].iter().any(|k| w.eq_ignore_ascii_case(k));
                    if w.is_empty() || keyword || w == "." || w == "$" {
                        self.pos = save;
                        break;
                    }
                    self.pos += w.chars().count();
                    words.push(w);
                }
                if words.is_empty() {
                    return Err(self.err("expected an event name"));
                }
                words.join(" ")
            }
        };
        let mut filter = None;
        // A condition may follow after spaces; `[^…]` never is one.
        let save = self.pos;
        self.skip_ws();
        let condition = self.peek() == Some('[')
            && self.chars[self.pos + 1..].iter().find(|c| !c.is_whitespace()).is_some_and(|&c| c != '^');
        if !condition {
            self.pos = save;
        }
        if condition {
            let open = self.pos;
            let Some(j) = crate::predicate::closing_bracket(self.chars, open) else {
                return Err(format!("at column {}: '[' without its ']'", open + 1));
            };
            let text: String = self.chars[open + 1..j].iter().collect();
            let p = Predicate::parse(&text).map_err(|e| crate::predicate::shift_column(&e, open + 1))?;
            filter = Some((Box::new(p), text, open + 2));
            self.pos = j + 1;
        }
        self.terms.push(Term { name, filter, column });
        Ok(self.terms.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Matches a pattern over a word sequence where an event is a letter;
    /// every event is a minute apart.
    fn find_in(p: &str, events: &str) -> Option<(usize, usize)> {
        let p = Pattern::parse(p).unwrap();
        let ev: Vec<char> = events.chars().collect();
        p.find(ev.len(), 0, &|i| i as i64 * 60_000_000, &mut |t, i| p.terms[t].matches_name(&ev[i].to_string()))
    }

    #[test]
    fn arrows_gaps_and_classes() {
        assert_eq!(find_in("A -> B", "xAxxBxB"), Some((1, 5)));
        assert_eq!(find_in("A => B", "xAxxBAB"), Some((5, 7)));
        assert_eq!(find_in("A -> [^C]* -> B", "ACBAxB"), Some((3, 6)));
        assert_eq!(find_in("A -> [^C]* -> B", "ACB"), None);
        assert_eq!(find_in("[A|B] => .", "xxBy"), Some((2, 4)));
        assert_eq!(find_in("A{2,} => B", "AxAAAB"), Some((2, 6)));
        assert_eq!(find_in("(A => B)+", "ABABx"), Some((0, 4)));
        assert_eq!(find_in("A -> B | C", "xCAB"), Some((1, 2)));
        assert_eq!(find_in("A -> B within 2m", "AxxB"), None);
        assert_eq!(find_in("A -> B within 3m", "AxxB"), Some((0, 4)));
        assert_eq!(find_in("A -> B within 2m", "AxAxB"), Some((2, 5)));
        // `$`: the end. "A, later B, and never C after it".
        assert_eq!(find_in("A -> B -> [^C]* -> $", "xAxBxx"), Some((1, 6)));
        assert_eq!(find_in("A -> B -> [^C]* -> $", "xAxBxCx"), None);
        // The nearest B that leads to a match: the second.
        assert_eq!(find_in("A -> B -> [^C]* -> $", "ABCAB"), Some((0, 5)));
        assert_eq!(find_in("A => $", "AxA"), Some((2, 3)));
        assert_eq!(find_in("'$pageview' -> $", "x"), None);
        assert!(Pattern::parse("$").unwrap_err().contains("at least one event"), "{:?}", Pattern::parse("$"));
        assert!(Pattern::parse("A $").unwrap_err().contains("found '$'"), "{:?}", Pattern::parse("A $"));
    }

    #[test]
    fn the_terms_a_match_starts_with() {
        let first = |src: &str| {
            let p = Pattern::parse(src).unwrap();
            p.first_terms().map(|ts| ts.iter().map(|&t| p.terms[t].name.clone()).collect::<Vec<_>>())
        };
        assert_eq!(first("A -> B"), Some(vec!["A".to_string()]));
        assert_eq!(first("[A|B] => C"), Some(vec!["A".to_string(), "B".to_string()]));
        assert_eq!(first("A? => B"), Some(vec!["A".to_string(), "B".to_string()]));
        assert_eq!(first("A -> B | C"), Some(vec!["A".to_string(), "C".to_string()]));
        assert_eq!(first(". => B"), None);
        assert_eq!(first("[^A] => B"), None);
        assert_eq!(first("(A | .) => B"), None);
    }

    #[test]
    fn the_terms_every_match_needs() {
        let required = |src: &str| {
            let p = Pattern::parse(src).unwrap();
            p.required_terms().iter().map(|&t| p.terms[t].name.clone()).collect::<Vec<_>>()
        };
        assert_eq!(required("A -> B -> [^C]* -> $"), ["A", "B"]);
        assert_eq!(required("A => B?"), ["A"]);
        assert_eq!(required("A | B"), Vec::<String>::new());
        assert_eq!(required("(A => B){2,}"), ["A", "B"]);
        assert_eq!(required("[A|B] => C"), ["C"]);
    }

    #[test]
    fn names_may_be_bare_words_or_quoted_globs_with_conditions() {
        let p = Pattern::parse("Product Viewed -> 'Order*'[revenue > 100] => [^Cart Viewed|Page Viewed]*").unwrap();
        let names: Vec<&str> = p.terms.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["Product Viewed", "Order*", "Cart Viewed", "Page Viewed"]);
        assert_eq!(p.terms[1].filter.as_ref().map(|(_, t, c)| (t.as_str(), *c)), Some(("revenue > 100", 28)));
        assert!(p.terms[1].matches_name("Order Completed"));
    }

    #[test]
    fn prefix_stops_at_comparisons_and_keywords() {
        let (p, used) = Pattern::parse_prefix("'A' -> B within 7d >= 2 and x = 1").unwrap();
        assert_eq!((p.text.as_str(), used), ("'A' -> B within 7d", 18));
        assert_eq!(p.within, Some(7 * 86_400_000_000));
        let (p, used) = Pattern::parse_prefix("'Order Completed' >= 2").unwrap();
        assert!(p.is_single_term());
        assert_eq!(used, 18);
        let (p, _) = Pattern::parse_prefix("A) or b").unwrap();
        assert_eq!(p.text, "A");
    }

    #[test]
    fn errors_name_the_column() {
        for (src, want) in [
            ("A -> ", "at column 6"),
            ("A -> [B", "at column 6: '[' without"),
            ("A{3,1}", "at column 2"),
            ("A? -> B*", "can match no events"),
            ("(A?)+ -> B", "at column 1: a repeated part"),
            ("'A' 'B'", "at column 5: expected '->'"),
            ("A -> B[revenue >]", "at column 17"),
            ("A{1000000}", "too large"),
        ] {
            let e = Pattern::parse(src).map(|p| p.text).unwrap_err();
            assert!(e.contains(want), "{src}: {e}");
        }
    }

    /// The definition: leftmost start, then backtracking in priority order
    /// over the tree (greedy repeats try more first, `->` gaps fewer).
    mod brute {
        use super::super::*;

        pub fn find(p: &Pattern, node: &Node, ev: &[u8], ts: &[i64], from: usize) -> Option<(usize, usize)> {
            for s in from..ev.len() {
                let mut out = None;
                m(p, node, ev, ts, s, s, &mut |e| {
                    out = Some(e);
                    true
                });
                if let Some(e) = out {
                    return Some((s, e));
                }
            }
            None
        }

        fn one(p: &Pattern, node: &Node, ev: &[u8], i: usize) -> bool {
            let is = |t: &usize| p.terms[*t].name.as_bytes()[0] == ev[i];
            match node {
                Node::Any => true,
                Node::Term(t) => is(t),
                Node::Class(neg, ts) => ts.iter().any(is) != *neg,
                _ => unreachable!(),
            }
        }

        /// Calls `k` with each end a match of `node` from `i` can reach,
        /// in priority order, until `k` says stop.
        fn m(
            p: &Pattern,
            node: &Node,
            ev: &[u8],
            ts: &[i64],
            s: usize,
            i: usize,
            k: &mut dyn FnMut(usize) -> bool,
        ) -> bool {
            match node {
                Node::Any | Node::Term(_) | Node::Class(..) => {
                    i < ev.len() && p.within.is_none_or(|w| ts[i] - ts[s] <= w) && one(p, node, ev, i) && k(i + 1)
                }
                Node::End => i == ev.len() && k(i),
                Node::Seq(ns) => seq(p, ns, ev, ts, s, i, k),
                Node::Alt(ns) => ns.iter().any(|n| m(p, n, ev, ts, s, i, k)),
                Node::Repeat(n, min, max, greedy) => rep(p, n, *min, *max, *greedy, ev, ts, s, i, k),
            }
        }

        fn seq(
            p: &Pattern,
            ns: &[Node],
            ev: &[u8],
            ts: &[i64],
            s: usize,
            i: usize,
            k: &mut dyn FnMut(usize) -> bool,
        ) -> bool {
            match ns.split_first() {
                None => k(i),
                Some((first, rest)) => m(p, first, ev, ts, s, i, &mut |j| seq(p, rest, ev, ts, s, j, k)),
            }
        }

        #[allow(clippy::too_many_arguments)]
        fn rep(
            p: &Pattern,
            n: &Node,
            min: u32,
            max: Option<u32>,
            greedy: bool,
            ev: &[u8],
            ts: &[i64],
            s: usize,
            i: usize,
            k: &mut dyn FnMut(usize) -> bool,
        ) -> bool {
            if min > 0 {
                return m(p, n, ev, ts, s, i, &mut |j| rep(p, n, min - 1, max.map(|x| x - 1), greedy, ev, ts, s, j, k));
            }
            if max == Some(0) {
                return k(i);
            }
            let more = |k: &mut dyn FnMut(usize) -> bool| {
                m(p, n, ev, ts, s, i, &mut |j| j > i && rep(p, n, 0, max.map(|x| x - 1), greedy, ev, ts, s, j, k))
            };
            // The same calls in another order: the order is the priority.
            #[allow(clippy::if_same_then_else)]
            if greedy { more(k) || k(i) } else { k(i) || more(k) }
        }
    }

    use proptest::prelude::*;

    /// Random patterns over the letters A, B and C.
    fn arb_pattern() -> impl Strategy<Value = String> {
        let letter = prop_oneof!["A", "B", "C"].prop_map(String::from);
        let atom = prop_oneof![
            4 => letter.clone(),
            1 => Just(".".to_string()),
            1 => (any::<bool>(), prop::collection::vec(letter.clone(), 1..3))
                .prop_map(|(neg, ls)| format!("[{}{}]", if neg { "^" } else { "" }, ls.join("|"))),
        ];
        let item = (atom, prop_oneof![4 => Just(""), 1 => Just("*"), 1 => Just("+"), 1 => Just("?"), 1 => Just("{1,2}"), 1 => Just("{0,2}")])
            .prop_map(|(a, q)| format!("{a}{q}"));
        let seq =
            (prop::collection::vec(item, 1..4), prop::collection::vec(any::<bool>(), 3)).prop_map(|(items, arrows)| {
                let mut s = items[0].clone();
                for (i, it) in items.iter().enumerate().skip(1) {
                    s += if arrows[i - 1] { " -> " } else { " => " };
                    s += it;
                }
                s
            });
        let grouped = prop_oneof![
            3 => seq.clone(),
            1 => seq.clone().prop_map(|a| format!("{a} -> $")),
            1 => seq.clone().prop_map(|a| format!("{a} => $")),
            1 => (seq.clone(), seq.clone()).prop_map(|(a, b)| format!("{a} | {b}")),
            1 => (seq.clone(), seq).prop_map(|(a, b)| format!("({a}){{1,2}} -> {b}")),
        ];
        (grouped, prop_oneof![3 => Just(""), 1 => Just(" within 3m")]).prop_map(|(g, w)| format!("{g}{w}"))
    }

    /// Parses again to get the tree the brute force walks.
    fn tree(src: &str) -> Option<(Pattern, Node)> {
        let p = Pattern::parse(src).ok()?;
        let chars: Vec<char> = src.chars().collect();
        let mut parser = Parser { chars: &chars, pos: 0, terms: Vec::new() };
        let node = parser.alt(0).ok()?;
        Some((p, node))
    }

    proptest! {
        /// Whatever a user types, parsing answers (a pattern or an error
        /// with a column), never panics.
        #[test]
        fn parsing_any_text_never_panics(src in "[AB' \\[\\]\\^|.*+?{}0-9,()<>=!-]{0,24}( within [0-9]{0,3}[dhx]?)?") {
            let _ = Pattern::parse(&src);
            let _ = crate::predicate::Predicate::parse(&format!("did {src}"));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, max_global_rejects: 3000, ..ProptestConfig::default() })]
        #[test]
        fn the_vm_agrees_with_brute_force(src in arb_pattern(), ev in prop::collection::vec(prop_oneof![Just(b'A'), Just(b'B'), Just(b'C'), Just(b'D')], 0..12), gaps in prop::collection::vec(0i64..3, 12)) {
            let parsed = tree(&src);
            // Patterns that can match nothing are refused by the parser.
            prop_assume!(parsed.is_some());
            let Some((p, node)) = parsed else { return Ok(()) };
            let mut ts = Vec::new();
            let mut t = 0;
            for g in gaps.iter().take(ev.len()) {
                t += g * 60_000_000;
                ts.push(t);
            }
            let mut test = |term: usize, i: usize| p.terms[term].name.as_bytes()[0] == ev[i];
            let tsf = |i: usize| ts[i];
            let masks: Vec<u64> = ev
                .iter()
                .map(|&e| p.terms.iter().enumerate().filter(|(_, t)| t.name.as_bytes()[0] == e).fold(0, |m, (k, _)| m | 1 << k))
                .collect();
            // One search's buffers serve every search, as in a fold.
            let mut search = Search::default();
            let mut from = 0;
            let mut count = 0;
            loop {
                let got = p.find(ev.len(), from, &tsf, &mut test);
                let want = brute::find(&p, &node, &ev, &ts, from);
                prop_assert_eq!(got, want, "pattern {} on {:?} from {}", src, String::from_utf8_lossy(&ev), from);
                let masked = p.find_masked(&masks, from, &tsf, &mut search);
                prop_assert_eq!(masked, want, "masked: pattern {} on {:?} from {}", src, String::from_utf8_lossy(&ev), from);
                // What a match needs is there, and it starts where one may.
                if let Some((s, e)) = want {
                    for t in p.required_terms() {
                        let letter = p.terms[t].name.as_bytes()[0];
                        prop_assert!(ev[s..e].contains(&letter), "{} needs {} in {:?}", src, letter as char, &ev[s..e]);
                    }
                    if let Some(first) = p.first_terms() {
                        prop_assert!(first.iter().any(|&t| p.terms[t].name.as_bytes()[0] == ev[s]), "{} starts at {}", src, ev[s] as char);
                    }
                }
                match want {
                    Some((_, e)) => { count += 1; from = e; }
                    None => break,
                }
            }
            prop_assert_eq!(p.count(ev.len(), &tsf, &mut test), count);
        }

        #[test]
        fn one_search_serves_many_sequences_as_the_vm_does(src in arb_pattern(), seqs in prop::collection::vec(prop::collection::vec(prop_oneof![Just(b'A'), Just(b'B'), Just(b'C'), Just(b'D')], 0..40), 1..5)) {
            let Some((p, _)) = tree(&src) else { return Ok(()) };
            // The bit-set search (its cached steps kept from one sequence to
            // the next, as over a fold's customers) finds what the VM finds;
            // so does one whose cache is full after two states (the VM takes
            // over mid-search).
            let mut search = Search::default();
            let mut small = Search::default();
            small.dfa.limit = 2;
            for ev in &seqs {
                let ts: Vec<i64> = (0..ev.len() as i64).map(|i| i * 60_000_000).collect();
                let tsf = |i: usize| ts[i];
                let mut test = |term: usize, i: usize| p.terms[term].name.as_bytes()[0] == ev[i];
                let masks: Vec<u64> = ev
                    .iter()
                    .map(|&e| p.terms.iter().enumerate().filter(|(_, t)| t.name.as_bytes()[0] == e).fold(0, |m, (k, _)| m | 1 << k))
                    .collect();
                for from in 0..=ev.len() {
                    let want = p.find(ev.len(), from, &tsf, &mut test);
                    let got = p.find_masked(&masks, from, &tsf, &mut search);
                    prop_assert_eq!(got, want, "pattern {} on {:?} from {}", src, String::from_utf8_lossy(ev), from);
                    let got = p.find_masked(&masks, from, &tsf, &mut small);
                    prop_assert_eq!(got, want, "a full cache: pattern {} on {:?} from {}", src, String::from_utf8_lossy(ev), from);
                }
            }
        }
    }
}
