//! A socket's receive queue: the messages its peers sent it, each with
//! what it carries besides bytes.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::vfs::File;

/// One send(2)'s worth of data (a stream may split a send into several).
pub struct Message {
    pub data: Vec<u8>,
    /// Bytes of `data` a stream reader has taken already.
    pub taken: usize,
    pub rights: Vec<Arc<File>>,
    /// The real uid whose in-flight count `rights` add to.
    pub charged_to: u32,
    pub creds: libc::ucred,
    /// The sender's name (datagrams), as getsockname would give it.
    pub from: Vec<u8>,
}

impl Message {
    pub fn left(&self) -> &[u8] {
        &self.data[self.taken..]
    }
}

#[derive(Default)]
pub struct Queue {
    pub msgs: VecDeque<Message>,
    /// Unread bytes in all.
    pub bytes: usize,
    /// Messages that carry descriptors: a receive from a queue holding
    /// any takes the in-flight lock.
    pub with_rights: usize,
}

impl Queue {
    pub fn push(&mut self, m: Message) {
        self.bytes += m.data.len() - m.taken;
        self.with_rights += usize::from(!m.rights.is_empty());
        self.msgs.push_back(m);
    }

    pub fn is_empty(&self) -> bool {
        self.msgs.is_empty()
    }

    pub fn pop(&mut self) -> Option<Message> {
        let m = self.msgs.pop_front()?;
        self.bytes -= m.data.len() - m.taken;
        self.with_rights -= usize::from(!m.rights.is_empty());
        Some(m)
    }

    /// Takes the descriptors of message `i`, which stays queued (a
    /// stream reader took part of its bytes).
    pub fn take_rights(&mut self, i: usize) -> Vec<Arc<File>> {
        let Some(m) = self.msgs.get_mut(i) else {
            return Vec::new();
        };
        let rights = std::mem::take(&mut m.rights);
        self.with_rights -= usize::from(!rights.is_empty());
        rights
    }

    /// Marks `n` bytes of the front message read (a stream reader).
    pub fn take(&mut self, n: usize) {
        if let Some(m) = self.msgs.front_mut() {
            let n = n.min(m.data.len() - m.taken);
            m.taken += n;
            self.bytes -= n;
        }
    }

    /// Bytes a FIONREAD reports: a stream's unread bytes, a datagram
    /// socket's next datagram.
    pub fn readable(&self, stream: bool) -> usize {
        if stream {
            self.bytes
        } else {
            self.msgs.front().map_or(0, |m| m.data.len())
        }
    }
}
