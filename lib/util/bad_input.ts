/**
 * The base of every error that means "what the user gave is wrong" (a flag,
 * the config file, the web config file), as opposed to a bug: main.ts prints
 * its message alone and exits 2, for any of them, without having to import
 * the module that throws it.
 *
 * @module
 */

/** Bad flags or configuration: the message says what and where, never a secret. */
export class BadInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BadInputError";
  }
}
