//! Just enough MessagePack to read what Fluent Bit's `file` output writes
//! with `Format msgpack`: its chunks as they are, one event after another,
//! each `[[timestamp, metadata], body]`. The benchmark checks the bodies;
//! writing them as MessagePack costs Fluent Bit next to nothing, where a
//! JSON output would add a conversion per record to every pipeline.

use serde_json::{Map, Number, Value};

/// One event of the file: its body as a JSON value and the body's bytes.
pub struct Event<'a> {
    pub body: Value,
    pub body_bytes: &'a [u8],
}

/// Every event in `bytes`, in order.
pub fn events(bytes: &[u8]) -> Result<Vec<Event<'_>>, String> {
    let mut reader = Reader { bytes, pos: 0 };
    let mut events = Vec::new();
    while reader.pos < bytes.len() {
        let at = reader.pos;
        let wrong = |what: &str| format!("byte {at}: an event should be {what}");
        if reader.array_len()? != 2 {
            return Err(wrong("[[timestamp, metadata], body]"));
        }
        if reader.array_len()? != 2 {
            return Err(wrong("[[timestamp, metadata], body] (the header)"));
        }
        reader.value()?; // timestamp (ext 0, or an integer in old formats)
        reader.value()?; // metadata
        let start = reader.pos;
        let body = reader.value()?;
        events.push(Event {
            body,
            body_bytes: &bytes[start..reader.pos],
        });
    }
    Ok(events)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(format!("byte {}: the file ends inside a value", self.pos));
        };
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn uint(&mut self, n: usize) -> Result<u64, String> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    fn array_len(&mut self) -> Result<usize, String> {
        let at = self.pos;
        let tag = self.uint(1)? as u8;
        match tag {
            0x90..=0x9f => Ok(usize::from(tag & 0x0f)),
            0xdc => Ok(self.uint(2)? as usize),
            0xdd => Ok(self.uint(4)? as usize),
            _ => Err(format!(
                "byte {at}: expected an array, found tag {tag:#04x}"
            )),
        }
    }

    fn string(&mut self, n: usize) -> Result<String, String> {
        let at = self.pos;
        let bytes = self.take(n)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| format!("byte {at}: a string is not UTF-8"))
    }

    fn value(&mut self) -> Result<Value, String> {
        let at = self.pos;
        let tag = self.uint(1)? as u8;
        let value = match tag {
            0x00..=0x7f => Value::from(tag),
            0xe0..=0xff => Value::from(tag as i8),
            0x80..=0x8f => self.map(usize::from(tag & 0x0f))?,
            0x90..=0x9f => self.array(usize::from(tag & 0x0f))?,
            0xa0..=0xbf => Value::String(self.string(usize::from(tag & 0x1f))?),
            0xc0 => Value::Null,
            0xc2 => Value::Bool(false),
            0xc3 => Value::Bool(true),
            0xc4..=0xc6 => {
                let n = self.uint(1 << (tag - 0xc4))? as usize;
                Value::from(self.take(n)?.to_vec())
            }
            0xc7..=0xc9 => {
                let n = self.uint(1 << (tag - 0xc7))? as usize;
                self.take(n + 1)?; // type byte + data
                Value::Null
            }
            0xca => float(f64::from(f32::from_bits(self.uint(4)? as u32))),
            0xcb => float(f64::from_bits(self.uint(8)?)),
            0xcc..=0xcf => Value::from(self.uint(1 << (tag - 0xcc))?),
            0xd0 => Value::from(self.uint(1)? as u8 as i8),
            0xd1 => Value::from(self.uint(2)? as u16 as i16),
            0xd2 => Value::from(self.uint(4)? as u32 as i32),
            0xd3 => Value::from(self.uint(8)? as i64),
            0xd4..=0xd8 => {
                self.take(1 + (1 << (tag - 0xd4)))?; // fixext: type + data
                Value::Null
            }
            0xd9..=0xdb => {
                let n = self.uint(1 << (tag - 0xd9))? as usize;
                Value::String(self.string(n)?)
            }
            0xdc | 0xdd => {
                let n = self.uint(if tag == 0xdc { 2 } else { 4 })? as usize;
                self.array(n)?
            }
            0xde | 0xdf => {
                let n = self.uint(if tag == 0xde { 2 } else { 4 })? as usize;
                self.map(n)?
            }
            _ => return Err(format!("byte {at}: unknown MessagePack tag {tag:#04x}")),
        };
        Ok(value)
    }

    fn array(&mut self, n: usize) -> Result<Value, String> {
        let mut items = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            items.push(self.value()?);
        }
        Ok(Value::Array(items))
    }

    fn map(&mut self, n: usize) -> Result<Value, String> {
        let mut map = Map::new();
        for _ in 0..n {
            let at = self.pos;
            let Value::String(key) = self.value()? else {
                return Err(format!("byte {at}: a map key that is not a string"));
            };
            let value = self.value()?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

fn float(x: f64) -> Value {
    Number::from_f64(x).map_or(Value::Null, Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fluent_bit_events() {
        // [[ext0 timestamp, {}], {"a": 1, "b": [-1, "x", 1.5, null, true]}] twice
        let mut event = vec![0x92, 0x92, 0xd7, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 0x80];
        event.extend([0x82, 0xa1, b'a', 0x01, 0xa1, b'b', 0x95, 0xff, 0xa1, b'x']);
        event.push(0xcb);
        event.extend(1.5f64.to_bits().to_be_bytes());
        event.extend([0xc0, 0xc3]);
        let file = [event.clone(), event].concat();
        let events = events(&file).expect("reads");
        assert_eq!(events.len(), 2);
        assert_eq!(
            events[1].body,
            serde_json::json!({"a": 1, "b": [-1, "x", 1.5, null, true]})
        );
        assert_eq!(events[0].body_bytes.first(), Some(&0x82));
        assert!(super::events(&file[..file.len() - 1]).is_err());
    }
}
