/** The message catalog of `<herald-inbox>`: English, German and Arabic ship; apps may add or override. */

/** Every text the element shows; `{count}` is replaced by a number. */
export interface InboxMessages {
  readonly title: string;
  readonly bellLabel: string;
  readonly bellLabelUnseen: string;
  readonly markAllRead: string;
  readonly close: string;
  readonly tabAll: string;
  readonly tabUnread: string;
  readonly tabArchived: string;
  readonly empty: string;
  readonly emptyHint: string;
  readonly emptyArchived: string;
  readonly loading: string;
  readonly loadMore: string;
  readonly offline: string;
  readonly error: string;
  readonly retry: string;
  readonly unread: string;
  readonly archive: string;
  readonly unarchive: string;
  readonly snooze: string;
  readonly snoozeHour: string;
  readonly snoozeTomorrow: string;
  readonly snoozeNextWeek: string;
  readonly actionFailed: string;
}

const en: InboxMessages = {
  title: 'Notifications',
  bellLabel: 'Notifications, {count} unread',
  bellLabelUnseen: 'Notifications, {count} new',
  markAllRead: 'Mark all as read',
  close: 'Close',
  tabAll: 'All',
  tabUnread: 'Unread',
  tabArchived: 'Archived',
  empty: 'You’re all caught up',
  emptyHint: 'New notifications will show up here.',
  emptyArchived: 'Nothing archived yet.',
  loading: 'Loading…',
  loadMore: 'Load more',
  offline: 'You’re offline. Reconnecting…',
  error: 'Notifications could not be loaded.',
  retry: 'Try again',
  unread: 'Unread',
  archive: 'Archive',
  unarchive: 'Move to inbox',
  snooze: 'Snooze',
  snoozeHour: 'For 1 hour',
  snoozeTomorrow: 'Until tomorrow',
  snoozeNextWeek: 'Until next week',
  actionFailed: 'That did not work. Please try again.',
};

const de: InboxMessages = {
  title: 'Benachrichtigungen',
  bellLabel: 'Benachrichtigungen, {count} ungelesen',
  bellLabelUnseen: 'Benachrichtigungen, {count} neu',
  markAllRead: 'Alle als gelesen markieren',
  close: 'Schließen',
  tabAll: 'Alle',
  tabUnread: 'Ungelesen',
  tabArchived: 'Archiv',
  empty: 'Alles erledigt',
  emptyHint: 'Neue Benachrichtigungen erscheinen hier.',
  emptyArchived: 'Noch nichts archiviert.',
  loading: 'Wird geladen…',
  loadMore: 'Mehr laden',
  offline: 'Keine Verbindung. Neuer Versuch läuft…',
  error: 'Benachrichtigungen konnten nicht geladen werden.',
  retry: 'Erneut versuchen',
  unread: 'Ungelesen',
  archive: 'Archivieren',
  unarchive: 'Zurück in den Posteingang',
  snooze: 'Später erinnern',
  snoozeHour: 'In 1 Stunde',
  snoozeTomorrow: 'Morgen',
  snoozeNextWeek: 'Nächste Woche',
  actionFailed: 'Das hat nicht geklappt. Bitte erneut versuchen.',
};

const ar: InboxMessages = {
  title: 'الإشعارات',
  bellLabel: 'الإشعارات، {count} غير مقروءة',
  bellLabelUnseen: 'الإشعارات، {count} جديدة',
  markAllRead: 'تعليم الكل كمقروء',
  close: 'إغلاق',
  tabAll: 'الكل',
  tabUnread: 'غير مقروءة',
  tabArchived: 'الأرشيف',
  empty: 'لا جديد لديك',
  emptyHint: 'ستظهر الإشعارات الجديدة هنا.',
  emptyArchived: 'لا شيء في الأرشيف بعد.',
  loading: 'جارٍ التحميل…',
  loadMore: 'تحميل المزيد',
  offline: 'لا يوجد اتصال. جارٍ إعادة الاتصال…',
  error: 'تعذّر تحميل الإشعارات.',
  retry: 'إعادة المحاولة',
  unread: 'غير مقروء',
  archive: 'أرشفة',
  unarchive: 'نقل إلى الوارد',
  snooze: 'تأجيل',
  snoozeHour: 'لمدة ساعة',
  snoozeTomorrow: 'حتى الغد',
  snoozeNextWeek: 'حتى الأسبوع القادم',
  actionFailed: 'لم تنجح العملية. حاول مرة أخرى.',
};

const catalogs = new Map<string, InboxMessages>([
  ['en', en],
  ['de', de],
  ['ar', ar],
]);

/** Languages written right to left. */
const RTL = new Set(['ar', 'fa', 'he', 'ur', 'ps', 'yi']);

/** Adds a catalog (or overrides some texts of one) for a language tag such as `fr` or `pt-BR`. */
export function registerMessages(locale: string, messages: Partial<InboxMessages>): void {
  const key = locale.toLowerCase();
  catalogs.set(key, { ...(catalogs.get(key) ?? catalogs.get(key.split('-')[0]) ?? en), ...messages });
}

/** The catalog of a locale: exact tag, then its language, then English. */
export function messagesFor(locale: string): InboxMessages {
  const key = locale.toLowerCase();
  return catalogs.get(key) ?? catalogs.get(key.split('-')[0]) ?? en;
}

/** The writing direction of a locale. */
export function directionOf(locale: string): 'ltr' | 'rtl' {
  return RTL.has(locale.toLowerCase().split('-')[0]) ? 'rtl' : 'ltr';
}

/** Replaces `{name}` placeholders. */
export function format(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (name in values ? String(values[name]) : whole));
}
