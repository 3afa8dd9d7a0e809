package ctstack.analysis;

import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

import org.apache.lucene.analysis.LowerCaseFilter;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.email.UAX29URLEmailTokenizer;
import org.apache.lucene.analysis.miscellaneous.RemoveDuplicatesTokenFilter;
import org.apache.lucene.analysis.pattern.PatternCaptureGroupTokenFilter;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.index.analysis.TokenFilterFactory;
import org.elasticsearch.index.analysis.TokenizerFactory;
import org.elasticsearch.indices.analysis.AnalysisModule.AnalysisProvider;
import org.elasticsearch.plugins.AnalysisPlugin;
import org.elasticsearch.plugins.Plugin;

/**
 * The analysis components Elasticsearch's own `.security` index asks for (its `email` analyzer:
 * tokenizer uax_url_email, filters pattern_capture, lowercase, unique). The official
 * distribution has them in the analysis-common module; the integ-test zip our local images and
 * test node are built from does not, so without them every `.security` write (setting a
 * password, creating an API key) fails with HTTP 400. Each one is Lucene's own class, registered
 * under the name and with the settings analysis-common gives it.
 */
public class SecurityAnalysisPlugin extends Plugin implements AnalysisPlugin {

    @Override
    public Map<String, AnalysisProvider<TokenFilterFactory>> getTokenFilters() {
        return Map.of(
            "pattern_capture", AnalysisPlugin.requiresAnalysisSettings((index, env, name, settings) -> patternCapture(name, settings)),
            "lowercase", (index, env, name, settings) -> filter(name, LowerCaseFilter::new),
            "unique", (index, env, name, settings) -> filter(name, RemoveDuplicatesTokenFilter::new)
        );
    }

    @Override
    public Map<String, AnalysisProvider<TokenizerFactory>> getTokenizers() {
        return Map.of("uax_url_email", (index, env, name, settings) -> TokenizerFactory.newFactory(name, () -> {
            UAX29URLEmailTokenizer tokenizer = new UAX29URLEmailTokenizer();
            tokenizer.setMaxTokenLength(settings.getAsInt("max_token_length", 255));
            return tokenizer;
        }));
    }

    private static TokenFilterFactory patternCapture(String name, Settings settings) {
        List<String> regexes = settings.getAsList("patterns");
        if (regexes.isEmpty()) {
            throw new IllegalArgumentException("pattern_capture [" + name + "] needs at least one entry in [patterns]");
        }
        Pattern[] patterns = regexes.stream().map(Pattern::compile).toArray(Pattern[]::new);
        boolean preserveOriginal = settings.getAsBoolean("preserve_original", true);
        return filter(name, input -> new PatternCaptureGroupTokenFilter(input, preserveOriginal, patterns));
    }

    private static TokenFilterFactory filter(String name, java.util.function.Function<TokenStream, TokenStream> wrap) {
        return new TokenFilterFactory() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public TokenStream create(TokenStream input) {
                return wrap.apply(input);
            }
        };
    }
}
