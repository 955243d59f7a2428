// The settings page's pure parts, run in Node (no browser): the draft's validation, the
// configuration helpers and the UI language choice. The page's behaviour around them is
// covered in the browser by settings.test.mjs.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { load, unload } from './modules.mjs';
import { lockedView, settingsView } from './settings-fixtures.mjs';

let v; // settings-validate.ts
let c; // settings-config.ts
let l; // settings-language.ts
let s; // English strings

before(async () => {
  v = await load('src/settings-validate.ts');
  c = await load('src/settings-config.ts');
  l = await load('src/settings-language.ts');
  s = (await load('src/settings-i18n.ts')).settingsStrings('en');
});
after(unload);

const validate = (view, edit = () => {}) => {
  const draft = structuredClone(view.config);
  edit(draft);
  return Object.fromEntries(v.validate(draft, view, s));
};

test('validate: the fixture configuration is valid', () => {
  assert.deepEqual(validate(settingsView()), {});
});

test('validate: numbers out of range, keyed by the field', () => {
  const errors = validate(settingsView(), (d) => {
    d.sync.window_days_back = 366;
    d.sync.window_days_ahead = 0;
    d.sync.interval_secs = 29;
    d.agenda.days = 1.5;
  });
  assert.deepEqual(errors, {
    'sync.window_days_back': s.intRange(0, 365),
    'sync.window_days_ahead': s.intRange(1, 730),
    'sync.interval_secs': s.minutesRange,
    'agenda.days': s.intRange(1, 14),
  });
});

test('validate: locked keys and a sync the organization turned off are not checked', () => {
  const locked = validate(lockedView(), (d) => {
    d.sync.interval_secs = 1;
    d.presence.rules[0].profile = 'Nobody';
  });
  assert.deepEqual(locked, {});
  const off = validate(settingsView({ sync_method: 'disabled' }), (d) => {
    d.sync.window_days_back = -1;
    d.agenda.days = 99;
  });
  assert.deepEqual(off, {});
});

test('validate: profile names, Teams pairs, status templates, forwarding numbers', () => {
  const errors = validate(settingsView(), (d) => {
    d.presence.profiles.push(
      { name: 'Deep work', priority: 1 },
      { name: ' ', priority: 256, teams: { availability: 'Busy', activity: 'Away', mode: 'preferred' } },
      { name: 'Calls', priority: 5, status_message: 'Back at {start}', forwarding: { number: '' } },
    );
  });
  assert.deepEqual(errors, {
    'presence.profiles.1.name': s.nameDuplicate,
    'presence.profiles.2.name': s.nameEmpty,
    'presence.profiles.2.priority': s.intRange(0, 255),
    'presence.profiles.2.teams': s.badPair,
    'presence.profiles.3.status_message': s.unknownPlaceholder('start', '{end}, {subject}'),
    'presence.profiles.3.forwarding': s.required,
  });
});

test('validate: a rule naming no profile; built-in and own profiles both count', () => {
  const errors = validate(settingsView(), (d) => {
    d.presence.rules[0].profile = 'Focus'; // built in
    d.presence.rules[1].profile = 'Gone';
  });
  assert.deepEqual(errors, { 'presence.rules.1.profile': s.unknownProfile('Gone') });
});

test('validate: each forwarding provider’s table', () => {
  const webex = validate(settingsView(), (d) => {
    d.presence.forwarding = { provider: 'webex', timeout_secs: 0, webex: { base_url: 'http://webex.example', person_id: 'a/b', voicemail: '' } };
  });
  assert.deepEqual(webex, {
    'presence.forwarding.timeout_secs': s.intRange(1, 120),
    'presence.forwarding.webex.base_url': s.badUrl,
    'presence.forwarding.webex.person_id': s.noSlash,
    'presence.forwarding.webex.voicemail': s.required,
  });
  const http = validate(settingsView(), (d) => {
    d.presence.forwarding = {
      provider: 'http',
      timeout_secs: 10,
      http: {
        extension: '1',
        voicemail: 'vm',
        on: { method: 'POST', url: 'http://127.0.0.1:8080/fw/{target}', headers: { Authorization: 'Bearer {token}' }, body: '{"a":' },
        off: { method: 'POST', url: 'https://pbx.example/{nope}' },
      },
    };
  });
  assert.deepEqual(http, {
    'presence.forwarding.http.on.headers': s.unknownPlaceholder('token', '{target}, {extension}, {secret}'),
    'presence.forwarding.http.on.body': s.badJson,
    'presence.forwarding.http.off.url': s.unknownPlaceholder('nope', '{target}, {extension}'),
  });
});

test('endpointOk: https anywhere, http only to this computer', () => {
  for (const ok of ['https://pbx.example/x', 'http://127.0.0.1:9/x', 'http://127.8.0.1/', 'http://localhost/', 'http://[::1]:80/', 'https://h/{target}']) {
    assert.equal(v.endpointOk(ok), true, ok);
  }
  for (const bad of ['http://pbx.example/', 'ftp://127.0.0.1/', 'file:///etc/passwd', 'not a url', '']) {
    assert.equal(v.endpointOk(bad), false, bad);
  }
});

test('templateProblem: placeholders, braces, length and control characters', () => {
  assert.equal(v.templateProblem('Busy until {end}: {subject}', s), null);
  assert.equal(v.templateProblem('Busy {', s), s.unclosedBrace);
  assert.equal(v.templateProblem('x'.repeat(281), s), s.tooLong(280));
  assert.equal(v.templateProblem('a\u0007b', s), s.controlChars);
});

test('stable: key order and null members do not make configurations differ', () => {
  assert.equal(c.stable({ b: 1, a: { y: null, x: [2, 1] } }), c.stable({ a: { x: [2, 1] }, b: 1, c: undefined }));
  assert.notEqual(c.stable({ a: { x: [1, 2] } }), c.stable({ a: { x: [2, 1] } }));
});

test('ensureProviderTable: a newly chosen provider starts with the engine’s defaults, an existing table stays', () => {
  const fw = { provider: 'ami', timeout_secs: 10 };
  c.ensureProviderTable(fw);
  assert.deepEqual(fw.ami, { host: '127.0.0.1', port: 5038, username: '', extension: '', voicemail: 'vmu{extension}', family: 'CF' });
  const kept = { provider: 'webex', timeout_secs: 10, webex: { base_url: 'https://w', person_id: 'p', voicemail: 'v' } };
  c.ensureProviderTable(kept);
  assert.deepEqual(kept.webex, { base_url: 'https://w', person_id: 'p', voicemail: 'v' });
});

test('uiLocale: the system’s locale unless a language was chosen; agendaDays only when usable', () => {
  assert.equal(l.uiLocale('de-AT', 'system'), 'de-AT');
  assert.equal(l.uiLocale('de-AT', 'de'), 'de-AT');
  assert.equal(l.uiLocale('de-AT', 'en'), 'en');
  assert.equal(l.uiLocale(undefined, 'system'), '');
  assert.equal(l.agendaDays(settingsView()), 7);
  for (const days of [0, 15, 2.5, '7']) {
    const view = settingsView();
    view.config.agenda.days = days;
    assert.equal(l.agendaDays(view), null, String(days));
  }
});

test('describe: presence and forwarding in the page’s words, unknown values as they are', async () => {
  const d = await load('src/settings-describe.ts');
  assert.equal(d.presenceLabel(s, 'Busy', 'InACall'), `${s.availability.Busy} — ${s.activity.InACall}`);
  assert.equal(d.presenceLabel(s, 'Lurking', 'Nowhere'), 'Lurking');
  assert.equal(d.forwardingText(s, { number: '+49 30 1234' }), s.forwardingTo('+49 30 1234'));
  assert.equal(d.forwardingText(s, 'voicemail'), s.forwardingVoicemail);
  assert.equal(d.forwardingText(s, 42), '');
  assert.equal(d.describeAction(s, { action: 'set_forwarding', forwarding: 'off' }), s.actSetForwarding(s.forwardingOff));
  assert.equal(d.describeAction(s, { action: 'set_presence', presence: { availability: 'Away', activity: 'Away' } }), s.actSetPresence(s.availability.Away));
  assert.equal(d.describeAction(s, { action: 'something_new' }), 'something_new');
  assert.equal(d.describeAction(s, null), null);
});

test('describe: a transition’s clock time is its local wall time; instants move to the local offset', async () => {
  const d = await load('src/settings-describe.ts');
  assert.equal(d.clockOf('2026-03-02T09:05:00+01:00', 'de-DE'), '09:05');
  assert.equal(d.clockOf('not a time', 'de-DE'), 'not a time');
  // 08:30 UTC is 09:30 at +01:00 and 03:30 at -05:00.
  assert.equal(d.clockAt('2026-03-02T08:30:00Z', '2026-03-02T09:00:00+01:00', 'de-DE'), '09:30');
  assert.equal(d.clockAt('2026-03-02T08:30:00Z', '2026-03-02T03:00:00-05:00', 'de-DE'), '03:30');
  assert.equal(d.clockAt(null, '2026-03-02T09:00:00+01:00', 'de-DE'), null);
});

test('linesOf: the non-blank lines of a text area, without carriage returns', async () => {
  const f = await load('src/settings-forwarding.ts');
  assert.deepEqual(f.linesOf('--on\r\n\n  \n{target}\n'), ['--on', '{target}']);
});
