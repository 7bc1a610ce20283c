/**
 * Chat templates (API: {@link io.transfuse.chat.ChatTemplate}, {@link io.transfuse.chat.ChatTemplateException}):
 * Hugging Face's Jinja templates rendered with Jinjava; the other classes here are the template engine's helpers.
 */
package io.transfuse.chat;
