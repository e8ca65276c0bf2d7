/** `value` as a regular expression matching exactly it (RE2 and JavaScript share these metacharacters). */
export const escapeRegex = (value: string): string => value.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * `value` escaped for a regex written inside a PromQL double-quoted string:
 * the string literal takes one level of backslashes, the regex the other.
 */
export const escapeRegexInPromqlString = (value: string): string => value.replace(/[.*+?^${}()|[\]\\]/g, "\\\\$&");
