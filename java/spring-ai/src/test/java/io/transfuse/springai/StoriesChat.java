package io.transfuse.springai;

import io.transfuse.Device;
import io.transfuse.LanguageModel;
import io.transfuse.LoadOptions;
import io.transfuse.TestModels;
import io.transfuse.Transfuse;
import io.transfuse.chat.ChatTemplate;

/**
 * The bundled stories260K model (no chat template of its own) and a plain template for it: BOS, then each
 * turn's text, so that the conversation reads as the start of a story.
 */
final class StoriesChat {
    private StoriesChat() {}

    static final ChatTemplate TEMPLATE = new ChatTemplate(
            "{{ bos_token }}{% for m in messages %}{% if m.role == 'assistant' %} {% endif %}{{ m.content }}{% endfor %}",
            "test: plain story template", "<s>", "</s>");

    static LanguageModel load() {
        return Transfuse.load(TestModels.storiesGguf(), LoadOptions.defaults().withDevice(Device.CPU).withMaxSequences(16));
    }
}
