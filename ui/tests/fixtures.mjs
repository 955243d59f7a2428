// Fixture data for the browser tests: Tuesday 24 November 2026, Europe/Berlin, "now" = 09:48.
export const TZ = 'Europe/Berlin';
export const NOW = '2026-11-24T09:48:00+01:00';
export const DATES = [
  '2026-11-24',
  '2026-11-25',
  '2026-11-26',
  '2026-11-27',
  '2026-11-28',
  '2026-11-29',
  '2026-11-30',
];

let n = 0;
/** One AgendaItem with defaults for every field of the contract. */
export function item(fields) {
  n += 1;
  return {
    id: `AAMk-${n}`,
    calendar: 'cal-work',
    calendar_name: 'Calendar',
    calendar_color: '#0078d4',
    subject: 'Untitled',
    start: '2026-11-24T10:00:00+01:00',
    end: '2026-11-24T10:30:00+01:00',
    all_day: false,
    show_as: 'busy',
    response: 'accepted',
    sensitivity: 'normal',
    cancelled: false,
    location: null,
    organizer: 'Dana Fischer',
    organizer_email: 'dana@contoso.com',
    join_url: null,
    online_provider: null,
    web_link: `https://outlook.office365.com/owa/?itemid=AAMk-${n}`,
    series_id: null,
    type: 'singleInstance',
    categories: [],
    body_preview: null,
    reminder_minutes: 15,
    presence: null,
    skipped: false,
    ...fields,
  };
}

const teams = (id) => ({
  join_url: `https://teams.microsoft.com/l/meetup-join/${id}`,
  online_provider: 'teamsForBusiness',
});

const t = (date, hm) => `${date}T${hm}:00+01:00`;

export function agenda() {
  const [d0, d1, , d3, , , d6] = DATES;
  const releaseWeek = {
    id: 'release-week',
    subject: 'Release week',
    all_day: true,
    start: '2026-11-23',
    end: '2026-11-28',
    show_as: 'free',
    response: 'organizer',
    organizer: null,
    organizer_email: null,
    reminder_minutes: null,
  };
  return {
    timezone: TZ,
    generated_at: NOW,
    days: [
      {
        date: d0,
        // Deliberately not in time order: the UI sorts.
        items: [
          item({
            id: 'weekly-sync',
            subject: 'Weekly sync',
            start: t(d0, '10:00'),
            end: t(d0, '10:30'),
            location: 'Room 4.12',
            type: 'occurrence',
            series_id: 'series-weekly',
            ...teams('weekly'),
            meeting_id: '312 456 789 012',
            meeting_passcode: 'Ab3dEf',
            body_preview: 'Agenda:\n1. Release status\n2. Open issues\n\nPlease add topics to the Loop page.',
            categories: ['Team'],
            presence: 'In a meeting',
            attendees: 12,
          }),
          item({
            id: 'standup',
            subject: 'Daily standup',
            start: t(d0, '09:30'),
            end: t(d0, '10:00'),
            type: 'occurrence',
            series_id: 'series-standup',
            ...teams('standup'),
          }),
          item({
            id: 'planning',
            subject: 'Quarterly planning',
            start: t(d0, '14:00'),
            end: t(d0, '15:30'),
            show_as: 'tentative',
            response: 'tentativelyAccepted',
            location: 'Conference Room Berlin',
            organizer: 'Jonas Weber',
            organizer_email: 'jonas@contoso.com',
            ...teams('planning'),
            attendees: 1,
          }),
          item({ ...releaseWeek, id: 'release-week' }),
          item({
            id: 'focus',
            subject: 'Focus time',
            start: t(d0, '08:30'),
            end: t(d0, '09:15'),
            show_as: 'free',
            response: 'organizer',
          }),
          item({
            id: 'lunch',
            subject: 'Lunch with Sam',
            start: t(d0, '12:00'),
            end: t(d0, '13:00'),
            sensitivity: 'private',
            location: 'Café Kranzler',
            response: 'organizer',
            attendees: 0,
          }),
          item({
            id: 'vendor-demo',
            subject: 'Vendor demo: Northwind',
            start: t(d0, '16:00'),
            end: t(d0, '16:30'),
            response: 'declined',
            show_as: 'free',
            organizer: 'Lee Chen',
            organizer_email: 'lee@northwind.example',
            ...teams('vendor'),
          }),
        ],
      },
      {
        date: d1,
        items: [
          item({
            id: 'customer-call',
            subject: 'Customer call — Fabrikam',
            start: t(d1, '11:00'),
            end: t(d1, '11:45'),
            response: 'notResponded',
            organizer: 'Priya Natarajan',
            organizer_email: 'priya@fabrikam.example',
            ...teams('fabrikam'),
            attendees: null,
          }),
          item({ ...releaseWeek, id: 'release-week' }),
          item({
            id: 'hamburg',
            subject: 'Working from Hamburg',
            all_day: true,
            start: d1,
            end: DATES[2],
            show_as: 'workingElsewhere',
            response: 'organizer',
          }),
          item({
            id: 'budget',
            subject: 'Budget review',
            start: t(d1, '15:00'),
            end: t(d1, '15:30'),
            cancelled: true,
            organizer: 'Jonas Weber',
          }),
        ],
      },
      { date: DATES[2], items: [] },
      {
        date: d3,
        items: [
          item({
            id: 'dentist',
            subject: 'Dentist',
            start: t(d3, '16:00'),
            end: t(d3, '17:00'),
            show_as: 'oof',
            sensitivity: 'confidential',
            response: 'organizer',
          }),
          item({
            id: 'team-lunch',
            subject: 'Team lunch',
            start: t(d3, '12:30'),
            end: t(d3, '13:30'),
            location: 'Markthalle Neun',
          }),
        ],
      },
      { date: DATES[4], items: [] },
      { date: DATES[5], items: [] },
      {
        date: d6,
        items: [
          item({
            id: 'sprint-planning',
            subject: 'Sprint planning',
            start: t(d6, '10:00'),
            end: t(d6, '11:30'),
            type: 'occurrence',
            ...teams('sprint'),
          }),
        ],
      },
    ],
  };
}

export function status(overrides = {}) {
  return {
    account: {
      signed_in: true,
      upn: 'dana@contoso.com',
      display_name: 'Dana Fischer',
      demo: true,
      ...(overrides.account ?? {}),
    },
    sync: {
      state: 'idle',
      last_synced_at: '2026-11-24T09:12:00+01:00',
      message: null,
      ...(overrides.sync ?? {}),
    },
    timezone: overrides.timezone ?? TZ,
  };
}

/** The status of a machine nobody has signed in on yet (`demo: true` keeps the plain state). */
export const signedOut = (account = {}) =>
  status({ account: { signed_in: false, upn: null, display_name: null, demo: false, ...account }, sync: { state: 'never', last_synced_at: null } });

/** An agenda of the fixture's days with nothing in them. */
export const emptyAgenda = () => ({
  timezone: TZ,
  generated_at: NOW,
  days: DATES.map((date) => ({ date, items: [] })),
});

/** `sign_in_info` answers. */
export const CLIENT_ID = '7e1c4b6a-2f3d-4d8e-9a5b-6c0d1e2f3a4b';

export function signInInfo(fields = {}) {
  return {
    client_id: CLIENT_ID,
    tenant: 'organizations',
    authority_host: 'https://login.microsoftonline.com',
    configured: true,
    ...fields,
  };
}

/** First launch: no application configured, nothing from an organization policy. */
export const unconfigured = (fields = {}) => signInInfo({ client_id: null, configured: false, ...fields });

/** Sign-in failures as the engine explains them (`IpcError.help`). */
export const ADMIN_CONSENT_URL = `https://login.microsoftonline.com/contoso.com/adminconsent?client_id=${CLIENT_ID}`;

export function consentError() {
  return {
    code: 'consent_required',
    message: `AADSTS90094: your organization requires an administrator to approve Presently before you can use it. Send your administrator this link to grant consent: ${ADMIN_CONSENT_URL}`,
    help: {
      aadsts: 'AADSTS90094',
      title: 'An administrator has to approve Presently',
      next_step: 'Send the link below to your administrator. Once they approved Presently, sign in again.',
      admin_consent_url: ADMIN_CONSENT_URL,
      redirect_uri: null,
    },
  };
}

export function redirectError() {
  return {
    code: 'auth_refused',
    message: 'AADSTS50011: the redirect URI is not registered for this application; an administrator must add it (Mobile and desktop applications: http://localhost)',
    help: {
      aadsts: 'AADSTS50011',
      title: 'The app registration lacks Presently’s redirect URI',
      next_step: 'An administrator adds this URI under Authentication → Mobile and desktop applications.',
      redirect_uri: 'http://localhost',
    },
  };
}
