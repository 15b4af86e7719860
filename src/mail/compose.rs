//! Composing emails from templates (`templates/emails/*.html` + `*.txt`) in the recipient's language.
