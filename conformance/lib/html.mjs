// Just enough HTML reading to play a browser on Leasify ID's own pages: forms, inputs, buttons,
// the title and the first heading. Attribute values are entity-decoded as a browser would.

const NAMED = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

export function decodeEntities(s) {
  return String(s).replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (all, body) => {
    if (body[0] === '#') {
      const code = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      return Number.isFinite(code) ? String.fromCodePoint(code) : all;
    }
    return NAMED[body.toLowerCase()] ?? all;
  });
}

export function parseAttributes(tag) {
  const attrs = {};
  const re = /([^\s"'<>\/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  // skip the tag name
  const inner = tag.replace(/^<\s*[a-zA-Z0-9]+/, '').replace(/\/?>$/, '');
  let match;
  while ((match = re.exec(inner)) !== null) {
    const name = match[1].toLowerCase();
    const value = match[2] ?? match[3] ?? match[4] ?? '';
    if (!(name in attrs)) attrs[name] = decodeEntities(value);
  }
  return attrs;
}

function stripTags(s) {
  return decodeEntities(String(s).replace(/<[^>]*>/g, ' ')).replace(/\s+/g, ' ').trim();
}

/** Every <form> with its fields (inputs, selects' first option, textareas) and submit buttons. */
export function parseForms(html) {
  const forms = [];
  const formRe = /<form\b[^>]*>([\s\S]*?)<\/form\s*>/gi;
  let match;
  while ((match = formRe.exec(html)) !== null) {
    const openTag = match[0].match(/^<form\b[^>]*>/i)[0];
    const attrs = parseAttributes(openTag);
    const body = match[1];
    const fields = [];
    const buttons = [];
    const controlRe = /<(input|button|textarea|select)\b[^>]*>([\s\S]*?<\/\1\s*>)?/gi;
    let control;
    while ((control = controlRe.exec(body)) !== null) {
      const kind = control[1].toLowerCase();
      const tagOpen = control[0].match(/^<[^>]*>/)[0];
      const a = parseAttributes(tagOpen);
      if (kind === 'input') {
        const type = (a.type ?? 'text').toLowerCase();
        if (type === 'submit' || type === 'image') {
          buttons.push({ name: a.name, value: a.value ?? '', text: a.value ?? '', attrs: a });
        } else if (type === 'checkbox' || type === 'radio') {
          fields.push({ name: a.name, value: a.value ?? 'on', type, checked: 'checked' in a, attrs: a });
        } else {
          fields.push({ name: a.name, value: a.value ?? '', type, attrs: a });
        }
        // <input> has no closing tag: step back over anything the lazy match swallowed
        if (control[2]) controlRe.lastIndex = control.index + tagOpen.length;
      } else if (kind === 'button') {
        const type = (a.type ?? 'submit').toLowerCase();
        if (type === 'submit') buttons.push({ name: a.name, value: a.value ?? '', text: stripTags(control[2] ?? ''), attrs: a });
      } else if (kind === 'textarea') {
        fields.push({ name: a.name, value: decodeEntities((control[2] ?? '').replace(/<\/textarea\s*>$/i, '')), type: 'textarea', attrs: a });
      } else if (kind === 'select') {
        const option = (control[2] ?? '').match(/<option\b[^>]*\bselected\b[^>]*>|<option\b[^>]*>/i);
        const oa = option ? parseAttributes(option[0]) : {};
        fields.push({ name: a.name, value: oa.value ?? '', type: 'select', attrs: a });
      }
    }
    forms.push({
      id: attrs.id,
      method: (attrs.method ?? 'get').toLowerCase(),
      action: attrs.action ?? '',
      enctype: attrs.enctype ?? 'application/x-www-form-urlencoded',
      fields: fields.filter((f) => f.name),
      buttons,
      html: match[0],
      text: stripTags(body),
    });
  }
  return forms;
}

export function pageSummary(html) {
  const title = html.match(/<title[^>]*>([\s\S]*?)<\/title>/i);
  const h1 = html.match(/<h1[^>]*>([\s\S]*?)<\/h1>/i);
  const alert = html.match(/<p[^>]*role="(?:alert|status)"[^>]*>([\s\S]*?)<\/p>/i);
  return {
    title: title ? stripTags(title[1]) : '',
    h1: h1 ? stripTags(h1[1]) : '',
    message: alert ? stripTags(alert[1]) : '',
  };
}

/** The fields a browser would submit for `form` when `button` is clicked (successful controls). */
export function formData(form, overrides = {}, button = null) {
  const data = new URLSearchParams();
  for (const f of form.fields) {
    if ((f.type === 'checkbox' || f.type === 'radio') && !f.checked) continue;
    if (f.attrs && 'disabled' in f.attrs) continue;
    if (f.name in overrides) continue;
    data.append(f.name, f.value);
  }
  for (const [k, v] of Object.entries(overrides)) {
    if (v !== undefined && v !== null) data.append(k, v);
  }
  if (button && button.name) data.append(button.name, button.value ?? '');
  return data;
}
