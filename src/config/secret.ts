import { inspect } from 'node:util';

/**
 * A secret value (password, token, application credential secret). It prints as `***` everywhere:
 * String(), JSON.stringify, util.inspect, template literals. Only `reveal()` gives the value, and only
 * the code that hands it to the wire (HTTP auth, ipmitool's environment, SMTP auth) calls it.
 */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  get empty(): boolean {
    return this.#value.length === 0;
  }
  toString(): string {
    return '***';
  }
  toJSON(): string {
    return '***';
  }
  [inspect.custom](): string {
    return 'Secret(***)';
  }
}
