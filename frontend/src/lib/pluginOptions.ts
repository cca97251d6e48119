// Plugins' options on the settings page, built from their descriptions
// (GET /api/option/specs): each plugin's fields go to the tab and card its options name
// (a core tab such as "payment", or a tab of its own), labelled in the current language.
import type { OptionSpec } from '../api';
import type { LoadedPlugin } from '../plugins/types';
import type { OptionField, OptionKind, OptionSection } from './options';

const KINDS: Record<string, OptionKind> = {
  string: 'string',
  text: 'text',
  number: 'number',
  bool: 'bool',
  json: 'json',
  secret: 'secret',
  select: 'select',
};

/** How a described option is edited; unknown types are edited as text, secrets write-only. */
export function specKind(spec: Pick<OptionSpec, 'type' | 'secret' | 'choices'>): OptionKind {
  if (spec.secret) return 'secret';
  const kind = KINDS[spec.type] ?? 'string';
  return kind === 'select' && !spec.choices.length ? 'string' : kind;
}

export function specField(spec: OptionSpec): OptionField {
  return {
    key: spec.key,
    kind: specKind(spec),
    label: spec.label,
    help: spec.help,
    choices: spec.choices,
    min: spec.minimum ?? undefined,
    max: spec.maximum ?? undefined,
  };
}

/** Whether the section can be shown with these plugins loaded. */
export function sectionShown(section: OptionSection, loaded: LoadedPlugin[]): boolean {
  return !section.requires || loaded.some((p) => (p.provides ?? []).includes(section.requires!));
}

/**
 * The core's sections (those whose requirement is met) with the loaded plugins' options
 * added: a plugin's option goes to tab `section` (else the plugin's name) and card `group`
 * (else the plugin's name). The core's own options are not touched here.
 */
export function settingsSections(core: OptionSection[], specs: OptionSpec[], loaded: LoadedPlugin[]): OptionSection[] {
  const names = new Set(loaded.map((p) => p.name));
  const sections = core.filter((s) => sectionShown(s, loaded)).map((s) => ({ ...s, groups: s.groups.map((g) => ({ ...g, fields: [...g.fields] })) }));
  for (const spec of specs) {
    if (spec.core || !names.has(spec.plugin)) continue;
    const sectionId = spec.section || spec.plugin;
    const groupId = spec.group || spec.plugin;
    let section = sections.find((s) => s.id === sectionId);
    if (!section) {
      section = { id: sectionId, groups: [] };
      sections.push(section);
    }
    let group = section.groups.find((g) => g.id === groupId);
    if (!group) {
      group = { id: groupId, fields: [] };
      section.groups.push(group);
    }
    if (!group.fields.some((f) => f.key === spec.key)) group.fields.push(specField(spec));
  }
  return sections;
}
