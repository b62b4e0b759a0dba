#include "PluginEditor.h"

namespace {
const char* knobIds[] = { "q", "pitch", "dry_wet", "gain", "gate", "voice_source" };
const juce::Colour background { 0xff1d2027 }, accent { 0xff4fc3a1 }, warning { 0xffe0614a };
}

TMRVCEditor::TMRVCEditor(TMRVCProcessor& p) : AudioProcessorEditor(&p), processor(p) {
    for (int i = 0; i < 6; ++i) {
        auto& k = knobs[i];
        k.slider.setColour(juce::Slider::rotarySliderFillColourId, accent);
        k.slider.setNumDecimalPlacesToDisplay(2);
        addAndMakeVisible(k.slider);
        k.label.setText(knobIds[i], juce::dontSendNotification);
        k.label.setJustificationType(juce::Justification::centred);
        addAndMakeVisible(k.label);
        k.attachment = std::make_unique<juce::AudioProcessorValueTreeState::SliderAttachment>(p.parameters, knobIds[i], k.slider);
    }
    registerMode.addItemList({ "auto", "shift" }, 1);
    addAndMakeVisible(registerMode);
    registerAttachment = std::make_unique<juce::AudioProcessorValueTreeState::ComboBoxAttachment>(p.parameters, "register_mode", registerMode);
    addAndMakeVisible(bypass);
    bypassAttachment = std::make_unique<juce::AudioProcessorValueTreeState::ButtonAttachment>(p.parameters, "bypass", bypass);

    recent.setMaxNumberOfItems(8);
    const auto settings = juce::File::getSpecialLocation(juce::File::userHomeDirectory).getChildFile(".config/tmrvc/recent.txt");
    recent.restoreFromString(settings.loadFileAsString());
    const auto& files = p.speakerFiles();
    for (int i = 0; i < files.size(); ++i) speaker.addItem(files[i].getFileNameWithoutExtension(), i + 1);
    speaker.addSeparator();
    for (int i = 0; i < recent.getNumFiles(); ++i) speaker.addItem("recent: " + recent.getFile(i).getFileName(), 1000 + i);
    speaker.setText(p.currentSpeakerName(), juce::dontSendNotification);
    speaker.onChange = [this] {
        const int id = speaker.getSelectedId();
        if (id >= 1000) {
            processor.loadSpeakerFile(recent.getFile(id - 1000));
        } else if (id >= 1) {
            if (auto* param = processor.parameters.getParameter("speaker"))
                param->setValueNotifyingHost(param->convertTo0to1(static_cast<float>(id - 1)));
        }
    };
    addAndMakeVisible(speaker);
    loadButton.onClick = [this] { chooseFile(); };
    addAndMakeVisible(loadButton);
    setSize(620, 330);
    startTimerHz(15);
}

TMRVCEditor::~TMRVCEditor() { stopTimer(); }

void TMRVCEditor::chooseFile() {
    chooser = std::make_unique<juce::FileChooser>("Choose a speaker", juce::File(), "*.tmrvc_speaker");
    chooser->launchAsync(juce::FileBrowserComponent::openMode | juce::FileBrowserComponent::canSelectFiles, [this](const juce::FileChooser& fc) {
        const auto file = fc.getResult();
        if (!file.existsAsFile()) return;
        processor.loadSpeakerFile(file);
        recent.addFile(file);
        const auto settings = juce::File::getSpecialLocation(juce::File::userHomeDirectory).getChildFile(".config/tmrvc/recent.txt");
        settings.getParentDirectory().createDirectory();
        settings.replaceWithText(recent.toString());
    });
}

void TMRVCEditor::timerCallback() {
    const auto s = processor.statistics();
    const double rate = processor.currentSampleRate();
    latencyText = rate > 0 ? juce::String(1000.0 * s.latency_samples / rate, 1) + " ms latency (" + juce::String(s.latency_samples) + " samples)"
                           : juce::String("not prepared (no audio device or an unsupported rate)");
    const double load = s.last_hop_microseconds / 100.0;   // percent of the 10 ms hop
    overloaded = s.overload_reductions > 0 && s.effective_q < processor.parameters.getRawParameterValue("q")->load();
    loadText = "CPU " + juce::String(load, 0) + " % of a hop (max " + juce::String(s.max_hop_microseconds / 100.0, 0) + " %), q in use "
               + juce::String(s.effective_q, 2) + (overloaded ? "  OVERLOAD: q lowered" : "");
    statusText = processor.status();
    if (statusText.isEmpty()) statusText = "speaker: " + processor.currentSpeakerName();
    inLevel = processor.inputLevel();
    outLevel = processor.outputLevel();
    if (!speaker.isPopupActive() && speaker.getText() != processor.currentSpeakerName())
        speaker.setText(processor.currentSpeakerName(), juce::dontSendNotification);
    repaint();
}

void TMRVCEditor::paint(juce::Graphics& g) {
    g.fillAll(background);
    g.setColour(juce::Colours::white);
    g.setFont(20.0f);
    g.drawText("TMRVC voice", 16, 8, 200, 28, juce::Justification::centredLeft);
    g.setFont(14.0f);
    g.drawText(latencyText, 16, 250, 360, 20, juce::Justification::centredLeft);
    g.setColour(overloaded ? warning : juce::Colours::lightgrey);
    g.drawText(loadText, 16, 272, 460, 20, juce::Justification::centredLeft);
    g.setColour(processor.status().isEmpty() ? juce::Colours::lightgrey : warning);
    g.drawText(statusText, 16, 296, 590, 20, juce::Justification::centredLeft);
    // Meters: input and output peak, -60...0 dBFS.
    auto meter = [&](int x, float level, const char* name) {
        const float db = juce::jlimit(-60.0f, 0.0f, juce::Decibels::gainToDecibels(level, -60.0f));
        const int h = 180, filled = juce::roundToInt((db + 60.0f) / 60.0f * h);
        g.setColour(juce::Colours::darkgrey);
        g.fillRect(x, 52, 14, h);
        g.setColour(db > -1.0f ? warning : accent);
        g.fillRect(x, 52 + h - filled, 14, filled);
        g.setColour(juce::Colours::lightgrey);
        g.drawText(name, x - 8, 234, 30, 14, juce::Justification::centred);
    };
    meter(560, inLevel, "in");
    meter(590, outLevel, "out");
}

void TMRVCEditor::resized() {
    speaker.setBounds(220, 10, 220, 26);
    loadButton.setBounds(448, 10, 80, 26);
    for (int i = 0; i < 6; ++i) {
        const int x = 16 + (i % 3) * 170, y = 48 + (i / 3) * 100;
        knobs[i].label.setBounds(x, y, 80, 16);
        knobs[i].slider.setBounds(x, y + 14, 90, 80);
    }
    registerMode.setBounds(420, 200, 110, 24);
    bypass.setBounds(420, 170, 110, 24);
}
