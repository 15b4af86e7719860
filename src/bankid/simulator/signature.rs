//! The `completionData.signature` and `ocspResponse` the simulator returns.
//!
//! The signature is base64 of an XML document shaped like BankID's (spec section 2.3): an
//! XML-DSig `Signature` whose `Object` holds `bankIdSignedData` with `usrVisibleData`,
//! `usrNonVisibleData`, `srvInfo` and `clientInfo`. It is NOT a verifiable XML-DSig: the digests
//! are SHA-256 of the elements as written (not canonicalised), the `SignatureValue` is random
//! bytes and `KeyInfo` carries no user certificate. Nothing may treat a simulator signature as
//! evidence; it exists so that code storing and displaying completion data has realistic input.

use base64::Engine;
use sha2::{Digest, Sha256};

use super::orders::Order;

/// A fixed DER `OCSPResponse` with `responseStatus` 6 (unauthorized) and no response bytes: a
/// well-formed placeholder, not a real OCSP answer.
pub const OCSP_RESPONSE: &str = "MAMKAQY=";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn random(len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes).expect("operating system random number generator failed");
    bytes
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Base64 of the signature XML for a completed `order`.
pub fn signature(order: &Order, uhi: &str, rp_display_name: &str) -> String {
    let visible = match (&order.user_visible_data, &order.user_visible_data_format) {
        (Some(data), Some(format)) => format!(
            r#"<usrVisibleData charset="UTF-8" format="{}" visible="wysiwys">{}</usrVisibleData>"#,
            escape(format),
            escape(data)
        ),
        (Some(data), None) => format!(
            r#"<usrVisibleData charset="UTF-8" visible="wysiwys">{}</usrVisibleData>"#,
            escape(data)
        ),
        (None, _) => String::new(),
    };
    let non_visible = order
        .user_non_visible_data
        .as_ref()
        .map(|data| format!("<usrNonVisibleData>{}</usrNonVisibleData>", escape(data)))
        .unwrap_or_default();
    let srv_info = format!(
        "<srvInfo><name>{}</name><nonce>{}</nonce><displayName>{}</displayName></srvInfo>",
        b64(format!("cn={rp_display_name},o=Leasify ID (development),c=SE").as_bytes()),
        b64(&random(20)),
        b64(rp_display_name.as_bytes()),
    );
    let policies = order
        .requirement
        .certificate_policies
        .as_ref()
        .filter(|p| !p.is_empty())
        .map(|p| p.join(","))
        .unwrap_or_else(|| "1.2.3.4.5,1.2.3.4.10,1.2.3.4.25,1.2.752.60.1.6".into());
    let mut conditions = format!(
        "<condition><type>CertificatePolicies</type><value>{}</value></condition>",
        escape(&policies)
    );
    if order.requirement.pin_code == Some(true) {
        conditions.push_str("<condition><type>PinCode</type><value>yes</value></condition>");
    }
    let func_id = if order.order_type.is_sign() {
        "Signing"
    } else {
        "Identification"
    };
    let client_info = format!(
        "<clientInfo><funcId>{func_id}</funcId><version>{}</version><env><ai><type>{}</type><deviceInfo>{}</deviceInfo>\
         <uhi>{}</uhi><fsib>0</fsib><utb>cs1</utb><requirement>{conditions}</requirement><uauth>pw</uauth></ai></env>\
         </clientInfo>",
        b64(b"Personal=7.13.0&platform=simulator"),
        b64(b"SIMULATOR"),
        b64(b"Leasify ID BankID simulator"),
        escape(uhi),
    );
    let signed_data = format!(
        r#"<bankIdSignedData xmlns="http://www.bankid.com/signature/v1.0.0/types" Id="bidSignedData">{visible}{non_visible}{srv_info}{client_info}</bankIdSignedData>"#
    );
    let key_info = r#"<KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#" Id="bidKeyInfo"><X509Data></X509Data></KeyInfo>"#;
    let reference = |uri: &str, type_attr: &str, element: &str| {
        format!(
            r#"<Reference{type_attr} URI="{uri}"><Transforms><Transform Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/></Transforms><DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><DigestValue>{}</DigestValue></Reference>"#,
            b64(&Sha256::digest(element.as_bytes()))
        )
    };
    let signed_info = format!(
        r#"<SignedInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/><SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"/>{}{}</SignedInfo>"#,
        reference(
            "#bidSignedData",
            r#" Type="http://www.bankid.com/signature/v1.0.0/types""#,
            &signed_data
        ),
        reference("#bidKeyInfo", "", key_info),
    );
    let xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="no"?><Signature xmlns="http://www.w3.org/2000/09/xmldsig#">{signed_info}<SignatureValue>{}</SignatureValue>{key_info}<Object>{signed_data}</Object></Signature>"#,
        b64(&random(64))
    );
    b64(xml.as_bytes())
}
