//! A line-oriented oracle over the pure rules, for differential tests against the engine
//! (tests/test_schema_sync.py): each input line is `<check> <hex of UTF-8 text>`, each output
//! line the result — `ok`, the refusal message, or for `mentions` the usernames joined by `,`.
//!
//! Checks: username, channel_name, server_name, thread_name, display_name, bio, status_text,
//! description, topic, avatar_url, icon_url, text_content, agent_event_content, emoji,
//! dm_content, mentions.

use spaces_logic::{mentions, validation as v};
use std::io::{self, BufRead, BufWriter, Write};

fn outcome<T>(result: Result<T, &'static str>) -> String {
    match result {
        Ok(_) => "ok".to_string(),
        Err(message) => message.to_string(),
    }
}

fn decode_hex(hex: &str) -> Result<String, String> {
    if !hex.len().is_multiple_of(2) {
        return Err(format!("odd hex length {}", hex.len()));
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|e| e.to_string()))
        .collect::<Result<Vec<u8>, String>>()?;
    String::from_utf8(bytes).map_err(|e| e.to_string())
}

fn run(check: &str, text: &str) -> Result<String, String> {
    let t = Some(text);
    Ok(match check {
        "username" => outcome(v::username(text)),
        "channel_name" => outcome(v::channel_name(text)),
        "server_name" => outcome(v::server_name(text)),
        "thread_name" => outcome(v::thread_name(text)),
        "display_name" => outcome(v::display_name(t)),
        "bio" => outcome(v::bio(t)),
        "status_text" => outcome(v::status_text(t)),
        "description" => outcome(v::description(t)),
        "topic" => outcome(v::topic(t)),
        "avatar_url" => outcome(v::avatar_url(t)),
        "icon_url" => outcome(v::icon_url(t)),
        "text_content" => outcome(v::text_content(text)),
        "agent_event_content" => outcome(v::agent_event_content(text)),
        "emoji" => outcome(v::emoji(text)),
        "dm_content" => outcome(v::dm_content(text)),
        "mentions" => mentions::mentions(text).join(","),
        other => return Err(format!("unknown check {other:?}")),
    })
}

fn main() -> Result<(), String> {
    let stdin = io::stdin();
    let mut out = BufWriter::new(io::stdout().lock());
    for line in stdin.lock().lines() {
        let line = line.map_err(|e| e.to_string())?;
        let (check, hex) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        let result = run(check, &decode_hex(hex)?)?;
        writeln!(out, "{result}").map_err(|e| e.to_string())?;
    }
    out.flush().map_err(|e| e.to_string())
}
