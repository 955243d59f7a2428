// The settings page's Presence section: automation on/off, the built-in profiles, the
// user's profiles (Teams presence, status message, priority, forwarding), the rules that
// pick a profile for a meeting, and the live preview's place. Rules keep following a
// profile while it is renamed, so the section keeps those links across re-renders.
import { h } from './dom';
import {
  builtinsOf,
  pairKnown,
  PREFERRED_PAIRS,
  profileNames,
  profilesOf,
  SESSION_PAIRS,
  SHOW_AS,
  type ProfileJson,
} from './settings-config';
import { forwardingText, presenceLabel } from './settings-describe';
import { fill, nextId, type Kit, type SelectOption } from './settings-form';
import { downIcon, plusIcon, trashIcon, upIcon } from './settings-icons';
import type { Preview } from './settings-preview';
import type { Activity, Availability, ConfigJson, PresenceRule, SettingsView, TeamsPresenceJson } from './types';
import type { Child } from './dom';

export interface PresenceSection {
  render(v: SettingsView, d: ConfigJson): HTMLElement;
  /** After a profile was renamed: the rules' profile choices and the built-in list follow. */
  renderRules(v: SettingsView, d: ConfigJson): void;
  /** The page re-renders without this section. */
  detach(): void;
}

export function createPresenceSection(kit: Kit, preview: Preview): PresenceSection {
  const { s, isLocked, idOf, changed, section, groupLockNote, textField, numberField, checkField, selectField, iconButton } = kit;
  let rulesHost: HTMLElement | null = null;
  let builtinsHost: HTMLElement | null = null;

  const teamsValue = (t: TeamsPresenceJson) => `${t.mode}:${t.availability}:${t.activity}`;

  function teamsOptions(current: TeamsPresenceJson | null | undefined): SelectOption[] {
    const pairs = (mode: TeamsPresenceJson['mode'], list: ReadonlyArray<readonly [Availability, string]>) =>
      list.map(([a, b]) => ({ value: `${mode}:${a}:${b}`, label: presenceLabel(s, a, b) }));
    const out: SelectOption[] = [
      { value: '', label: s.unchanged },
      { group: s.preferredGroup, options: pairs('preferred', PREFERRED_PAIRS) },
      { group: s.sessionGroup, options: pairs('session', SESSION_PAIRS) },
    ];
    if (current && !pairKnown(current)) out.push({ value: teamsValue(current), label: `${current.availability}/${current.activity} (${current.mode})` });
    return out;
  }

  function builtinList(v: SettingsView, d: ConfigJson): HTMLElement {
    const own = new Set(profilesOf(d).map((p) => p.name));
    return h(
      'ul',
      { class: 'builtin-list', 'data-testid': 'builtin-profiles' },
      ...builtinsOf(v).map((p) => {
        const parts = [
          p.teams ? presenceLabel(s, p.teams.availability, p.teams.activity) : null,
          p.status_message ? `“${p.status_message}”` : null,
          p.forwarding ? s.actSetForwarding(forwardingText(s, p.forwarding)) : null,
        ].filter((x): x is string => !!x);
        return h(
          'li',
          { class: `builtin${own.has(p.name) ? ' is-replaced' : ''}`, 'data-testid': 'builtin-profile' },
          h('span', { class: 'builtin-name' }, p.name),
          h('span', { class: 'builtin-priority muted' }, `${s.priority} ${p.priority}`),
          parts.length ? h('span', { class: 'builtin-what muted' }, parts.join(' · ')) : null,
          own.has(p.name) ? h('span', { class: 'chip' }, s.replaced) : null,
        );
      }),
    );
  }

  /**
   * Rules follow a profile that is being renamed: the rules naming it when the renaming
   * began stay linked to it while its name is typed (an empty name leaves them as they are).
   */
  const ruleLinks = new WeakMap<PresenceRule, ProfileJson>();
  function renameRuleRefs(d: ConfigJson, p: ProfileJson, from: string, to: string): void {
    const others = profilesOf(d).filter((q) => q !== p);
    for (const r of d.presence.rules) {
      const linked = ruleLinks.get(r) === p || (!!from && r.profile === from && !others.some((q) => q.name === from));
      if (!linked) continue;
      ruleLinks.set(r, p);
      if (to.trim() !== '') r.profile = to;
    }
  }

  function profileCard(d: ConfigJson, p: ProfileJson, i: number): HTMLElement {
    const pid = idOf(p);
    const key = (f: string) => `presence.profiles.${i}.${f}`;
    const focus = (f: string) => `profile:${pid}:${f}`;
    const group = 'presence.profiles';
    const titleId = nextId('profile');
    const legend = h('h5', { class: 'card-title', id: titleId }, s.profileN(i + 1, p.name));
    const name = textField(
      { key: key('name'), group, focus: focus('name'), label: s.profileName, testid: 'profile-name' },
      () => p.name,
      (v) => {
        const before = p.name;
        p.name = v;
        renameRuleRefs(d, p, before, v);
        legend.textContent = s.profileN(i + 1, v);
      },
      'rules',
    );
    const teams = selectField(
      { key: key('teams'), group, focus: focus('teams'), label: s.teams, testid: 'profile-teams' },
      teamsOptions(p.teams),
      () => (p.teams ? teamsValue(p.teams) : ''),
      (v) => {
        const [mode, availability, activity] = v.split(':');
        if (!v || !mode || !availability || !activity) delete p.teams;
        else p.teams = { mode: mode === 'session' ? 'session' : 'preferred', availability: availability as Availability, activity: activity as Activity };
      },
    );
    const message = textField(
      { key: key('status_message'), group, focus: focus('status'), label: s.statusMessage, hint: s.statusHint, testid: 'profile-status' },
      () => p.status_message ?? '',
      (v) => {
        if (v.trim() === '') delete p.status_message;
        else p.status_message = v;
      },
    );
    const priority = numberField(
      { key: key('priority'), group, focus: focus('priority'), label: s.priority, hint: s.priorityHint, min: 0, max: 255, testid: 'profile-priority' },
      () => p.priority,
      (n) => (p.priority = n),
    );
    const fw = p.forwarding;
    const fwKind = fw === 'off' || fw === 'voicemail' ? fw : fw && typeof fw === 'object' ? 'number' : '';
    const forwarding = selectField(
      { key: key('forwarding_kind'), group, focus: focus('forwarding'), label: s.profileForwarding, testid: 'profile-forwarding' },
      [
        { value: '', label: s.unchanged },
        { value: 'off', label: s.fwOff },
        { value: 'voicemail', label: s.fwVoicemail },
        { value: 'number', label: s.fwNumber },
      ],
      () => fwKind,
      (v) => {
        if (v === 'off' || v === 'voicemail') p.forwarding = v;
        else if (v === 'number') p.forwarding = { number: fw && typeof fw === 'object' ? fw.number : '' };
        else delete p.forwarding;
      },
      'all',
    );
    const number =
      fw && typeof fw === 'object'
        ? textField(
            { key: key('forwarding'), group, focus: focus('number'), label: s.fwNumberLabel, testid: 'profile-forwarding-number' },
            () => fw.number ?? '',
            (v) => (fw.number = v),
          )
        : null;
    const remove = iconButton(
      s.removeProfile(p.name),
      focus('remove'),
      trashIcon(),
      () => {
        const list = profilesOf(d);
        list.splice(list.indexOf(p), 1);
        const next = list[Math.min(i, list.length - 1)];
        kit.focusAfterRender(next ? `profile:${idOf(next)}:remove` : 'add-profile');
        changed('all');
      },
      { disabled: isLocked(group), testid: 'profile-remove' },
    );
    return h(
      'li',
      { class: 'card', 'data-testid': 'profile' },
      h(
        'fieldset',
        { class: 'card-body', 'aria-labelledby': titleId },
        h('div', { class: 'card-head' }, legend, h('div', { class: 'card-actions' }, remove)),
        name,
        teams,
        message,
        h('div', { class: 'field-row' }, priority, forwarding),
        number,
        p.automatic_replies ? h('p', { class: 'field-hint' }, s.autoRepliesKept) : null,
      ),
    );
  }

  function ruleCard(d: ConfigJson, v: SettingsView, r: PresenceRule, i: number, count: number): HTMLElement {
    const rid = idOf(r);
    const n = i + 1;
    const titleId = nextId('rule');
    const group = 'presence.rules';
    const locked = isLocked(group);
    const focus = (f: string) => `rule:${rid}:${f}`;
    const move = (to: number) => {
      const rules = d.presence.rules;
      rules.splice(i, 1);
      rules.splice(to, 0, r);
      kit.focusAfterRender(to === 0 ? focus('down') : to === rules.length - 1 ? focus('up') : focus(to < i ? 'up' : 'down'));
      changed('all');
    };
    const showAs = h(
      'fieldset',
      { class: 'settings-group show-as' },
      h('legend', { class: 'field-label' }, s.showAs),
      h(
        'div',
        { class: 'check-wrap' },
        ...SHOW_AS.map((value) => {
          const id = nextId('show');
          const input = h('input', { type: 'checkbox', class: 'checkbox', id, 'data-focus': focus(`show:${value}`), 'data-testid': `rule-show-${value}`, disabled: locked });
          input.checked = !!r.show_as?.includes(value);
          input.addEventListener('change', () => {
            const next = SHOW_AS.filter((x) => (x === value ? input.checked : !!r.show_as?.includes(x)));
            if (next.length) r.show_as = next;
            else delete r.show_as;
            changed();
          });
          return h('div', { class: 'check-row' }, input, h('label', { for: id }, s.showAsNames[value] ?? value));
        }),
      ),
    );
    const optional = (k: 'category' | 'subject_contains') => (val: string) => {
      if (val.trim() === '') delete r[k];
      else r[k] = val;
    };
    const names = profileNames(d, v);
    const options: SelectOption[] = [{ value: '', label: s.changeNothing }, ...names.map((x) => ({ value: x, label: x }))];
    if (typeof r.profile === 'string' && !names.includes(r.profile)) options.push({ value: r.profile, label: r.profile });
    // Conditions this page does not edit (calendar, online_meeting, …) stay as they are; the
    // engine writes include_cancelled/include_declined/all_day always, so their defaults do not count.
    const edited = new Set(['profile', 'show_as', 'category', 'subject_contains']);
    const defaults: Record<string, unknown> = { include_cancelled: false, include_declined: false, all_day: 'oof_only' };
    const more = Object.entries(r).some(
      ([k, val]) => !edited.has(k) && val !== null && val !== undefined && defaults[k] !== val && !(Array.isArray(val) && !val.length),
    );
    return h(
      'li',
      { class: 'card rule', 'data-testid': 'rule' },
      h(
        'fieldset',
        { class: 'card-body', 'aria-labelledby': titleId },
        h(
          'div',
          { class: 'card-head' },
          h('h5', { class: 'card-title', id: titleId }, s.ruleN(n)),
          h(
          'div',
          { class: 'card-actions' },
          iconButton(s.moveUp(n), focus('up'), upIcon(), () => move(i - 1), { disabled: locked || i === 0, testid: 'rule-up' }),
          iconButton(s.moveDown(n), focus('down'), downIcon(), () => move(i + 1), { disabled: locked || i === count - 1, testid: 'rule-down' }),
          iconButton(
            s.removeRule(n),
            focus('remove'),
            trashIcon(),
            () => {
              const rules = d.presence.rules;
              rules.splice(i, 1);
              const next = rules[Math.min(i, rules.length - 1)];
              kit.focusAfterRender(next ? `rule:${idOf(next)}:remove` : 'add-rule');
              changed('all');
            },
            { disabled: locked, testid: 'rule-remove' },
          ),
          ),
        ),
        showAs,
        h(
          'div',
          { class: 'field-row' },
          textField({ key: `presence.rules.${i}.category`, group, focus: focus('category'), label: s.category, testid: 'rule-category' }, () => r.category ?? '', optional('category')),
          textField(
            { key: `presence.rules.${i}.subject_contains`, group, focus: focus('subject'), label: s.subjectContains, testid: 'rule-subject' },
            () => r.subject_contains ?? '',
            optional('subject_contains'),
          ),
        ),
        selectField(
          { key: `presence.rules.${i}.profile`, group, focus: focus('profile'), label: s.thenProfile, testid: 'rule-profile' },
          options,
          () => (typeof r.profile === 'string' ? r.profile : ''),
          (val) => {
            ruleLinks.delete(r);
            if (val) r.profile = val;
            else delete r.profile;
          },
        ),
        more ? h('p', { class: 'field-hint' }, s.moreConditions) : null,
      ),
    );
  }

  function rulesList(d: ConfigJson, v: SettingsView): Child[] {
    const rules = d.presence.rules;
    if (!rules.length) return [h('p', { class: 'muted empty-list' }, s.noRules)];
    return [h('ol', { class: 'card-list', 'data-testid': 'rules' }, ...rules.map((r, i) => ruleCard(d, v, r, i, rules.length)))];
  }

  /** After a profile was renamed: the rules' profile choices and the built-in list follow. */
  function renderRules(view: SettingsView, draft: ConfigJson): void {
    kit.unregister('presence.rules.');
    if (rulesHost) fill(rulesHost, ...rulesList(draft, view));
    builtinsHost?.replaceChildren(builtinList(view, draft));
  }

  function presenceSection(v: SettingsView, d: ConfigJson): HTMLElement {
    const profiles = profilesOf(d);
    const addProfile = h(
      'button',
      { type: 'button', class: 'btn', 'data-testid': 'add-profile', 'data-focus': 'add-profile', disabled: isLocked('presence.profiles') },
      plusIcon(),
      s.addProfile,
    );
    addProfile.addEventListener('click', () => {
      const taken = new Set(profileNames(d, v));
      let name = s.newProfile;
      for (let n = 2; taken.has(name); n++) name = `${s.newProfile} ${n}`;
      const p: ProfileJson = { name, priority: 50, teams: { availability: 'Busy', activity: 'Busy', mode: 'preferred' } };
      profiles.push(p);
      kit.focusAfterRender(`profile:${idOf(p)}:name`, true);
      changed('all');
    });
    const addRule = h(
      'button',
      { type: 'button', class: 'btn', 'data-testid': 'add-rule', 'data-focus': 'add-rule', disabled: isLocked('presence.rules') },
      plusIcon(),
      s.addRule,
    );
    addRule.addEventListener('click', () => {
      const names = profileNames(d, v);
      const r: PresenceRule = { show_as: ['busy'], include_cancelled: false, include_declined: false, all_day: 'oof_only' };
      if (names[0]) r.profile = names[0];
      d.presence.rules.push(r);
      kit.focusAfterRender(`rule:${idOf(r)}:show:free`, true);
      changed('all');
    });

    builtinsHost = h('div', { class: 'builtins-host' }, builtinList(v, d));
    rulesHost = h('div', { class: 'rules-host' }, ...rulesList(d, v));
    const previewHost = preview.host();

    return section(
      'presence',
      s.presence,
      checkField(
        { key: 'features.presence', label: s.presenceOn, hint: s.presenceHint, testid: 'presence-enabled' },
        () => d.features.presence,
        (on) => (d.features.presence = on),
      ),
      h('h4', { class: 'settings-sub' }, s.builtinProfiles),
      h('p', { class: 'field-hint' }, s.builtinHint),
      builtinsHost,
      h('h4', { class: 'settings-sub' }, s.yourProfiles),
      groupLockNote('presence.profiles'),
      profiles.length
        ? h('ol', { class: 'card-list', 'data-testid': 'profiles' }, ...profiles.map((p, i) => profileCard(d, p, i)))
        : h('p', { class: 'muted empty-list' }, s.noProfiles),
      h('div', { class: 'settings-actions' }, addProfile),
      h('h4', { class: 'settings-sub' }, s.rules),
      h('p', { class: 'field-hint' }, s.rulesHint),
      groupLockNote('presence.rules'),
      rulesHost,
      h('div', { class: 'settings-actions' }, addRule),
      checkField(
        { key: 'presence.default_rules', label: s.defaultRules, hint: s.defaultRulesHint, testid: 'default-rules' },
        () => d.presence.default_rules,
        (on) => (d.presence.default_rules = on),
      ),
      selectField(
        { key: 'presence.restore_when_call_ends', label: s.callEnded, hint: s.callEndedHint, testid: 'call-ended' },
        (['ask', 'auto', 'off'] as const).map((m) => ({ value: m, label: s.callEndedModes[m] ?? m })),
        () => d.presence.restore_when_call_ends,
        (v) => (d.presence.restore_when_call_ends = v === 'auto' || v === 'off' ? v : 'ask'),
      ),
      h(
        'div',
        { class: 'preview', role: 'region', 'aria-labelledby': 'settings-preview-title' },
        h('h4', { class: 'settings-sub', id: 'settings-preview-title' }, s.preview),
        h('p', { class: 'field-hint' }, s.previewHint),
        previewHost,
      ),
    );
  }

  return {
    render: presenceSection,
    renderRules,
    detach() {
      rulesHost = builtinsHost = null;
    },
  };
}
